/**
 * CyberArk Identity's URL layout: where a profile's tokens are requested and revoked. The core
 * knows only that a profile has a token endpoint and maybe a revocation endpoint; this module,
 * behind the identity provider port, says what they are for a CyberArk tenant.
 */
import type { ProfileEndpoints } from "../core/ports.js";
import type { Profile } from "../core/profiles.js";

/** `/oauth2/platformtoken`, or `/oauth2/token/{applicationId}` for a custom OAuth2 app. */
export function tokenEndpointPath(profile: Pick<Profile, "applicationId">): string {
  return profile.applicationId === undefined
    ? "/oauth2/platformtoken"
    : `/oauth2/token/${encodeURIComponent(profile.applicationId)}`;
}

/**
 * `/oauth2/revoke/{applicationId}` for a custom OAuth2 app; `undefined` for platform tokens,
 * which have no documented revocation application.
 */
export function revocationEndpointPath(
  profile: Pick<Profile, "applicationId">,
): string | undefined {
  return profile.applicationId === undefined
    ? undefined
    : `/oauth2/revoke/${encodeURIComponent(profile.applicationId)}`;
}

/** The profile's endpoints at its tenant (`tenantUrl` is an origin, validated with the profile). */
export function cyberArkEndpoints(
  profile: Pick<Profile, "tenantUrl" | "applicationId">,
): ProfileEndpoints {
  const revocation = revocationEndpointPath(profile);
  return {
    token: new URL(tokenEndpointPath(profile), profile.tenantUrl).href,
    ...(revocation === undefined
      ? {}
      : { revocation: new URL(revocation, profile.tenantUrl).href }),
  };
}
