/**
 * What the CyberArk Identity simulator grants for an asked `scope`: each scope-token of the ask
 * is checked against the application's allowed scopes, and the grant is what was asked (or the
 * application's default scopes when nothing was asked). Tests can make it grant narrower or
 * broader than asked, to see what the service does with such an answer. Never deployed.
 */
import type { SimulatedApplication, SimulatedGrant } from "./simulator-options.js";

// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The scopes granted (`undefined`: the answer carries no `scope`), or `invalid_scope`. */
export type ScopeDecision =
  | { readonly granted: readonly string[] | undefined }
  | { readonly error: "invalid_scope" };

/**
 * Decides the grant for `asked` (the request's `scope` field, if any). `application` is the custom
 * app asked (absent for platform tokens, which check nothing); `adjustment`, a test's knob.
 */
export function decideScopes(
  asked: string | undefined,
  application: SimulatedApplication | undefined,
  adjustment: SimulatedGrant | undefined,
): ScopeDecision {
  const scopes = [...new Set((asked ?? "").split(" ").filter((scope) => scope !== ""))];
  if (scopes.some((scope) => !SCOPE_TOKEN.test(scope))) return { error: "invalid_scope" };
  const allowed = application?.scopes;
  if (allowed && scopes.some((scope) => !allowed.includes(scope)))
    return { error: "invalid_scope" };
  // Nothing asked: the app's defaults, or (none configured) no scope at all, as before.
  const defaults = application?.defaultScopes;
  const granted = scopes.length > 0 ? scopes : defaults && [...defaults];
  return { granted: adjust(granted, adjustment) };
}

/** The answer's `scope` field for a grant: space-separated; absent when nothing was decided. */
export function scopeField(granted: readonly string[] | undefined): { scope?: string } {
  return granted === undefined ? {} : { scope: granted.join(" ") };
}

function adjust(
  granted: readonly string[] | undefined,
  adjustment: SimulatedGrant | undefined,
): readonly string[] | undefined {
  if (!adjustment || (granted === undefined && !adjustment.add?.length)) return granted;
  const kept = (granted ?? []).filter((scope) => !adjustment.omit?.includes(scope));
  return [...new Set([...kept, ...(adjustment.add ?? [])])];
}
