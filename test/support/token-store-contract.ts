/**
 * The TokenStore port's contract, as one suite run against every implementation: the in-memory
 * fake the unit tests use and the DynamoDB adapter on moto. If the fake drifts from the real
 * store, this suite fails for one of them.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_LIVE_SCOPE_SETS } from "../../functions/core/live-sets.js";
import type { TokenStore } from "../../functions/core/ports.js";
import { NO_SCOPES, scopeSetOf } from "../../functions/core/scope-set.js";
import type { CachedToken } from "../../functions/core/token.js";

/** The scope set the per-set tests use: the empty one, whose items keep the profile's old keys. */
const S = NO_SCOPES;

const T0 = Date.parse("2026-11-21T12:00:00Z");

function token(fields: Partial<CachedToken> = {}): CachedToken {
  return {
    cacheKey: "identity-a",
    accessToken: "token-a",
    scope: "ReadUserProfile",
    issuedAt: T0,
    expiresAt: T0 + 3_600_000,
    ...fields,
  };
}

/** Runs the contract against stores made by `newStore` (a fresh, empty store per test). */
export function describeTokenStoreContract(
  name: string,
  newStore: () => TokenStore | Promise<TokenStore>,
): void {
  describe(`TokenStore contract: ${name}`, () => {
    let store: TokenStore;
    beforeEach(async () => {
      store = await newStore();
    });

    // Credentials read when the token was issued, unless the test says otherwise; no DELETE read.
    const put = (profile: string, t: CachedToken, credentialsReadAt = t.issuedAt) =>
      store.put(profile, S, t, { credentialsReadAt });
    const tokenOf = async (profile: string) => (await store.get(profile, S)).token;

    it("reads nothing for a profile never written", async () => {
      expect(await store.get("p", S)).toEqual({});
    });

    it("reads back exactly what was written, and says it stored it", async () => {
      expect(await put("p", token())).toBe("stored");
      expect(await store.get("p", S)).toEqual({ token: token() });
    });

    it("keeps a token without a scope without one", async () => {
      const { scope: _scope, ...unscoped } = token();
      await put("p", unscoped);
      expect(await tokenOf("p")).toEqual(unscoped);
    });

    it("keeps each profile's token apart", async () => {
      await put("p", token());
      await put("q", token({ accessToken: "token-q" }));
      expect((await tokenOf("p"))?.accessToken).toBe("token-a");
      expect((await tokenOf("q"))?.accessToken).toBe("token-q");
    });

    it("replaces a token of the same identity by a newer one", async () => {
      await put("p", token());
      const newer = token({
        accessToken: "newer",
        issuedAt: T0 + 60_000,
        expiresAt: T0 + 3_660_000,
      });
      expect(await put("p", newer)).toBe("stored");
      expect((await tokenOf("p"))?.accessToken).toBe("newer");
    });

    it("does not replace a newer token of the same identity with an older one", async () => {
      const newer = token({
        accessToken: "newer",
        issuedAt: T0 + 60_000,
        expiresAt: T0 + 3_660_000,
      });
      await put("p", newer);
      expect(await put("p", token({ accessToken: "older" }))).toBe("refused");
      expect((await tokenOf("p"))?.accessToken).toBe("newer");
    });

    it("replaces a token of the same identity by one issued later that expires sooner", async () => {
      await put("p", token());
      const shorter = token({
        accessToken: "shorter",
        issuedAt: T0 + 60_000,
        expiresAt: T0 + 660_000,
      });
      await put("p", shorter);
      expect((await tokenOf("p"))?.accessToken).toBe("shorter");
    });

    it("replaces a token of another identity issued before the writer read its credentials, whatever its expiry", async () => {
      await put("p", token({ expiresAt: T0 + 7_200_000 }));
      const rotated = token({ cacheKey: "identity-b", accessToken: "rotated", issuedAt: T0 + 1 });
      expect(await put("p", rotated, T0 + 1)).toBe("stored");
      expect(await tokenOf("p")).toMatchObject({ cacheKey: "identity-b", accessToken: "rotated" });
    });

    it("keeps a token of another identity issued after the writer read its credentials", async () => {
      await put("p", token({ issuedAt: T0 + 60_000 }));
      const stale = token({ cacheKey: "identity-b", accessToken: "stale", issuedAt: T0 + 90_000 });
      expect(await put("p", stale, T0 + 60_000)).toBe("refused");
      expect((await tokenOf("p"))?.accessToken).toBe("token-a");
    });

    it("deletes a profile's token and returns it, and deleting nothing returns nothing", async () => {
      await put("p", token());
      expect(await store.delete("p", S, T0 + 1_000)).toEqual(token());
      expect(await store.delete("never-written", S, T0 + 1_000)).toBeUndefined();
      expect(await tokenOf("p")).toBeUndefined();
    });

    it("records when a DELETE was made, until a token replaces the record, and says a write that did not read it was refused by it", async () => {
      await put("p", token());
      await store.delete("p", S, T0 + 1_000);
      expect(await store.get("p", S)).toEqual({ deletedAt: T0 + 1_000 });
      const after = token({ accessToken: "after", issuedAt: T0 + 2_000 });
      expect(await put("p", after)).toBe("deleted"); // a write that did not read the record
      await store.put("p", S, after, { credentialsReadAt: T0 + 2_000, deletionRead: T0 + 1_000 });
      expect(await store.get("p", S)).toEqual({ token: after });
    });

    it("refuses a token whose refresh did not read the DELETE, whenever its credentials were read", async () => {
      await store.delete("p", S, T0 + 1_000);
      const issuedLater = token({ accessToken: "stale", issuedAt: T0 + 2_000 });
      expect(await put("p", issuedLater, T0 + 1_000)).toBe("deleted");
      // Read "after" the DELETE on the writer's clock: a skewed clock, or one frozen, cannot say.
      expect(await put("p", issuedLater, T0 + 1_001)).toBe("deleted");
      expect(await store.get("p", S)).toEqual({ deletedAt: T0 + 1_000 });
    });

    it("refuses a token over a DELETE record far ahead of the writer's clock that it did not read", async () => {
      // A DELETE made while the writer was frozen looks, to the writer's old clock, like an edit.
      await store.delete("p", S, T0 + 3_600_000);
      const fresh = token({ issuedAt: T0 + 2_000 });
      expect(await store.put("p", S, fresh, { credentialsReadAt: T0 })).toBe("deleted");
      expect(await store.get("p", S)).toEqual({ deletedAt: T0 + 3_600_000 });
    });

    it("replaces the very DELETE record the refresh read, however far ahead of the writer's clock", async () => {
      // Recorded ahead (a DELETE on a clock ahead, or an edit): the refresh read it, so its write
      // may replace exactly that record, and no other.
      await store.delete("p", S, T0 + 3_600_000);
      const fresh = token({ issuedAt: T0 + 200 });
      const basis = { credentialsReadAt: T0 + 100 };
      expect(await store.put("p", S, fresh, { ...basis, deletionRead: T0 + 4_000 })).toBe(
        "deleted",
      );
      expect(await store.put("p", S, fresh, { ...basis, deletionRead: T0 + 3_600_000 })).toBe(
        "stored",
      );
      expect(await tokenOf("p")).toEqual(fresh);
    });

    it("takes over a back-off that ends later than any CyberArk may ask for (an edit)", async () => {
      await store.putBackOff("p", T0 + 86_400_000);
      await store.putBackOff("p", T0 + 30_000);
      expect(await store.getBackOff("p")).toBe(T0 + 30_000);
    });

    it("grants a free lease, and refuses it to another owner until it expires", async () => {
      expect(await store.acquireLease("p", S, "a", T0, T0 + 15_000)).toBe(true);
      expect(await store.acquireLease("p", S, "b", T0 + 1_000, T0 + 16_000)).toBe(false);
      expect(await store.acquireLease("p", S, "b", T0 + 15_000, T0 + 30_000)).toBe(false);
      expect(await store.acquireLease("p", S, "b", T0 + 15_001, T0 + 30_001)).toBe(true);
    });

    it("refuses a lease just taken by an instance whose clock runs a little ahead", async () => {
      // Clocks of two instances differ by milliseconds: a live lease must not look forged.
      expect(await store.acquireLease("p", S, "ahead", T0 + 1_000, T0 + 16_000)).toBe(true);
      expect(await store.acquireLease("p", S, "behind", T0, T0 + 15_000)).toBe(false);
    });

    it("takes over a lease that ends later than any lease taken now could (an edit)", async () => {
      expect(await store.acquireLease("p", S, "forger", T0, T0 + 3_600_000)).toBe(true);
      expect(await store.acquireLease("p", S, "me", T0 + 1_000, T0 + 16_000)).toBe(true);
    });

    it("refuses a held lease to its own owner too: one holder, one refresh", async () => {
      expect(await store.acquireLease("p", S, "a", T0, T0 + 15_000)).toBe(true);
      expect(await store.acquireLease("p", S, "a", T0 + 1_000, T0 + 16_000)).toBe(false);
    });

    it("frees a lease released by its owner, and ignores a release by anyone else", async () => {
      await store.acquireLease("p", S, "a", T0, T0 + 15_000);
      await store.releaseLease("p", S, "b");
      expect(await store.acquireLease("p", S, "c", T0 + 1_000, T0 + 16_000)).toBe(false);
      await store.releaseLease("p", S, "a");
      expect(await store.acquireLease("p", S, "c", T0 + 1_000, T0 + 16_000)).toBe(true);
    });

    it("records a back-off per profile, never shortened by an earlier end", async () => {
      expect(await store.getBackOff("p")).toBeUndefined();
      await store.putBackOff("p", T0 + 60_000);
      await store.putBackOff("p", T0 + 30_000);
      expect(await store.getBackOff("p")).toBe(T0 + 60_000);
      expect(await store.getBackOff("q")).toBeUndefined();
    });

    it("keeps leases and tokens independent, per profile", async () => {
      await put("p", token());
      expect(await store.acquireLease("p", S, "a", T0, T0 + 15_000)).toBe(true);
      expect(await store.acquireLease("q", S, "b", T0, T0 + 15_000)).toBe(true);
      await store.delete("p", S, T0 + 1_000);
      expect(await store.acquireLease("p", S, "c", T0 + 1_000, T0 + 16_000)).toBe(false);
      await store.releaseLease("p", S, "a");
      expect(await tokenOf("p")).toBeUndefined();
    });

    describe("scope sets", () => {
      const A = scopeSetOf(["ReadUserProfile"]);
      const B = scopeSetOf(["ReadUserProfile", "WriteReports"]);
      const place = (
        set: typeof A,
        fields: { now?: number; holdUntil?: number; deletionRead?: number } = {},
      ) =>
        store.takePlace("p", set, {
          reserved: A,
          now: fields.now ?? T0,
          holdUntil: fields.holdUntil ?? T0 + 300_000,
          ...(fields.deletionRead === undefined ? {} : { deletionRead: fields.deletionRead }),
        });

      it("keeps each set's token, lease and DELETE record apart", async () => {
        await store.put("p", A, token({ accessToken: "a" }), { credentialsReadAt: T0 });
        await store.put("p", B, token({ accessToken: "b" }), { credentialsReadAt: T0 });
        expect((await store.get("p", A)).token?.accessToken).toBe("a");
        expect((await store.get("p", B)).token?.accessToken).toBe("b");
        expect((await store.get("p", S)).token).toBeUndefined();
        expect(await store.acquireLease("p", A, "x", T0, T0 + 15_000)).toBe(true);
        expect(await store.acquireLease("p", B, "y", T0, T0 + 15_000)).toBe(true);
        await store.delete("p", A, T0 + 1_000);
        expect((await store.get("p", B)).token?.accessToken).toBe("b");
      });

      it("a profile DELETE drops every set's token at once, a set it was not told of included", async () => {
        await store.put("p", A, token({ accessToken: "a" }), { credentialsReadAt: T0 });
        await store.put("p", B, token({ accessToken: "b" }), { credentialsReadAt: T0 });
        expect(await place(A)).toEqual({ taken: true });

        const dropped = await store.deleteProfile("p", T0 + 1_000, []);

        expect(dropped.map((t) => t.accessToken)).toEqual(["a"]); // the placed set's, returned
        expect((await store.get("p", A)).token).toBeUndefined();
        expect(await store.get("p", B)).toEqual({ profile: { deletedAt: T0 + 1_000 } });
      });

      it("never serves a token whose writer read the profile's record before a DELETE", async () => {
        await store.deleteProfile("p", T0 + 1_000, []);
        const late = token({ accessToken: "late", issuedAt: T0 + 2_000 });
        await store.put("p", B, late, { credentialsReadAt: T0 + 2_000 }); // read before the DELETE
        expect((await store.get("p", B)).token).toBeUndefined();
        const basis = { credentialsReadAt: T0 + 2_000, profileDeletionRead: T0 + 1_000 };
        const after = token({ accessToken: "after", issuedAt: T0 + 3_000 });
        expect(await store.put("p", B, after, basis)).toBe("stored");
        expect((await store.get("p", B)).token?.accessToken).toBe("after");
      });

      it("tells two DELETEs in the same millisecond apart: a write that read the first is refused, and never served", async () => {
        await store.deleteProfile("p", T0 + 1_000, [B]);
        const first = await store.get("p", B); // what a refresh reads before asking CyberArk
        await store.deleteProfile("p", T0 + 1_000, [B]);
        const basis = {
          credentialsReadAt: T0 + 1_000,
          ...(first.deletedAt === undefined ? {} : { deletionRead: first.deletedAt }),
          ...(first.profile?.deletedAt === undefined
            ? {}
            : { profileDeletionRead: first.profile.deletedAt }),
        };
        const late = token({ accessToken: "read-the-first", issuedAt: T0 + 1_000 });

        expect(await store.put("p", B, late, basis)).toBe("deleted");
        expect((await store.get("p", B)).token).toBeUndefined();
        expect(await store.get("p", B)).toEqual({
          deletedAt: T0 + 1_001,
          profile: { deletedAt: T0 + 1_001 },
        });
      });

      it("records a DELETE on a clock behind the last one's after it, on every item", async () => {
        await store.deleteProfile("p", T0 + 5_000, [A]);
        await store.deleteProfile("p", T0 + 1_000, [A, B]);
        const record = { deletedAt: T0 + 5_001, profile: { deletedAt: T0 + 5_001 } };
        expect(await store.get("p", A)).toEqual(record);
        expect(await store.get("p", B)).toEqual(record);
      });

      it(`places at most ${MAX_LIVE_SCOPE_SETS} live sets, one kept for the default, and reports each set's place`, async () => {
        for (let n = 1; n < MAX_LIVE_SCOPE_SETS; n += 1) {
          expect(await place(scopeSetOf([`s${n}`]), { holdUntil: T0 + 300_000 + n })).toEqual({
            taken: true,
          });
        }
        expect(await place(B)).toEqual({ taken: false, freesAt: T0 + 300_001 });
        expect(await place(A)).toEqual({ taken: true }); // the default's place
        expect((await store.get("p", scopeSetOf(["s2"]))).profile).toEqual({
          liveUntil: T0 + 300_002,
        });
        // Once a place has freed, a new set takes it.
        expect(await place(B, { now: T0 + 300_002 })).toEqual({ taken: true });
      });

      it("refuses a place asked under a DELETE record other than the profile's", async () => {
        await store.deleteProfile("p", T0 + 1_000, []);
        expect(await place(B)).toEqual({ taken: false });
        expect(await place(B, { deletionRead: T0 + 1_000 })).toEqual({ taken: true });
      });
    });
  });
}
