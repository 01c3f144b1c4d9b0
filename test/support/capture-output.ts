/**
 * Captures everything written to stdout and stderr, so tests can prove what was never logged.
 */

/** A running capture; `text()` is everything written since it started. */
export interface OutputCapture {
  text(): string;
  stop(): void;
}

/** Starts capturing process.stdout and process.stderr (still passing them through when asked). */
export function captureOutput(options: { passThrough?: boolean } = {}): OutputCapture {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  streams.forEach((stream, index) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      if (!options.passThrough) return true;
      return (originals[index] as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  });
  return {
    text: () => chunks.join(""),
    stop: () => {
      streams.forEach((stream, index) => {
        stream.write = originals[index] as typeof stream.write;
      });
    },
  };
}
