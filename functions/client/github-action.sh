#!/usr/bin/env bash
# The token step of the GitHub Action (action.yml at the repository root): runs this checkout's
# CLI, then hands the token to the job as the output `token` and, with export-env, as
# CYBERARK_TOKEN. Inputs arrive as INPUT_* variables.
set -euo pipefail

fail() {
  echo "::error::cyberark-token action: $1" >&2
  exit "${2:-1}"
}

case "${INPUT_EXPORT_ENV:-false}" in
  true | True | TRUE) export_env=true ;;
  false | False | FALSE | "") export_env=false ;;
  *) fail "export-env must be true or false" 2 ;;
esac

args=(get "${INPUT_PROFILE:-}" --format token)
if [[ -n "${INPUT_URL:-}" ]]; then args+=(--url "$INPUT_URL"); fi
if [[ -n "${INPUT_MIN_VALIDITY:-}" ]]; then args+=(--min-validity "$INPUT_MIN_VALIDITY"); fi

# With GITHUB_ACTIONS=true the CLI writes ::add-mask::<token> to stderr, which the runner reads,
# before it prints the token: the token is masked before anything below can show or set it.
# The CLI is this release's committed bundle (built from functions/client/bin.ts and the locked
# dependencies), so nothing is fetched at run time. A failure has already printed its one line
# naming the error; set -e ends here.
token="$(GITHUB_ACTIONS=true node "$GITHUB_ACTION_PATH/functions/client/github-action.mjs" "${args[@]}")"

# One line each in the runner's NAME=value form: a value with a line break could add entries.
if [[ -z "$token" || "$token" == *$'\n'* || "$token" == *$'\r'* ]]; then
  fail "the service returned a token that is empty or spans lines"
fi
echo "token=$token" >>"$GITHUB_OUTPUT"
if [[ "$export_env" == true ]]; then echo "CYBERARK_TOKEN=$token" >>"$GITHUB_ENV"; fi
