// The example's report function: what it does with the token is yours. The construct example
// (bin/platform.ts) packages this folder as the function's code.
exports.handler = async () => ({ statusCode: 204 });
