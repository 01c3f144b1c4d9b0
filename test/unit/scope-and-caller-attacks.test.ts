/**
 * Review attacks on issue 25's scope ceilings: the `scope` query, who may learn what from a 403,
 * ceilings of several matching entries, and configuration edge cases (profiles file, granted
 * callers variable). Each bad input must be one clear problem line or the contract's JSON error.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import {
  type ProfilesConfig,
  ProfilesConfigError,
  parseProfilesConfig,
} from "../../functions/core/profiles.js";
import { createHandler, functionUrlHandler } from "../../functions/vend/app.js";
import { ownFunctionUrl } from "../../functions/vend/own-function-url.js";
import { createVending } from "../../functions/vend/vending.js";
import {
  functionUrlEvent,
  lambdaContext,
  restEvent,
  TEST_API,
  TEST_URL_CONFIG,
} from "../support/events.js";
import { ACCOUNT } from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const TENANT = "https://abc1234.id.cyberark.cloud";
const REPORT_JOB = `arn:aws:sts::${ACCOUNT}:assumed-role/report-job/nightly`;
const DEPLOY_JOB = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-job/run-7`;
const STRANGER = "arn:aws:sts::999988887777:assumed-role/report-job/x";
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;

function rawConfig(extra: Record<string, unknown> = {}) {
  return {
    profiles: {
      shared: {
        tenantUrl: TENANT,
        secretId: "cyberark/reports",
        applicationId: "deploy_api",
        scope: "read",
        scopes: ["read", "deploy", "admin"],
        allowedCallers: [
          { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
          { caller: `arn:aws:iam::${ACCOUNT}:role/deploy-job`, scopes: ["read", "deploy"] },
        ],
        ...extra,
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
  };
}

let h: VendorHarness;
beforeEach(() => {
  h = vendorHarness();
});

function handlerOf(config: ProfilesConfig = parseProfilesConfig(rawConfig())) {
  const vendor = h.newVendor(config);
  return createHandler({ vendor, clock: h.clock, logger: h.logger, api: TEST_API });
}

async function call(
  handler: ReturnType<typeof handlerOf>,
  options: { arn: string; profile?: string; query?: Record<string, string[]>; method?: string },
) {
  const event = restEvent({
    profile: options.profile ?? "shared",
    callerArn: options.arn,
    ...(options.method ? { method: options.method } : {}),
    ...(options.query ? { query: options.query } : {}),
  });
  const response = await handler(event, lambdaContext());
  return {
    status: response.statusCode,
    json: response.body ? JSON.parse(response.body) : undefined,
  };
}

describe("attack: the scope query", () => {
  const malformed: [string, string[]][] = [
    ["a tab between scopes", ["read\tdeploy"]],
    ["a newline (log injection)", ["read\nFAKE audit line"]],
    ["a CR LF", ["read\r\ndeploy"]],
    ["unicode", ["réad"]],
    ["a zero-width space", ["read\u200bdeploy"]],
    ["a quote", ['read"']],
    ["a backslash", ["read\\"]],
    ["a NUL", ["read\u0000"]],
    ["a 129-character scope", ["r".repeat(129)]],
    ["a 100 KB value", ["r".repeat(100_000)]],
    ["17 distinct scopes", [Array.from({ length: 17 }, (_, i) => `s${i}`).join(" ")]],
    ["only spaces", ["   "]],
    ["empty", [""]],
    ["the parameter twice", ["read", "read"]],
  ];
  for (const [name, values] of malformed) {
    it(`answers ${name} with 400 invalid_request, quoting nothing sent`, async () => {
      const response = await call(handlerOf(), { arn: DEPLOY_JOB, query: { scope: values } });

      expect(response.status).toBe(400);
      expect(response.json.error).toBe("invalid_request");
      expect(typeof response.json.error_description).toBe("string");
      expect(response.json.error_description.length).toBeLessThan(200);
      for (const value of values) {
        if (value.trim().length > 3) expect(response.json.error_description).not.toContain(value);
      }
      expect(JSON.stringify(h.logger.lines)).not.toContain("FAKE audit line");
      expect(JSON.stringify(h.logger.lines)).not.toContain("r".repeat(129));
      expect(h.identity.requests).toEqual([]);
    });
  }

  it("normalises duplicates, extra spaces and order: a duplicated in-ceiling ask is served", async () => {
    const response = await call(handlerOf(), {
      arn: DEPLOY_JOB,
      query: { scope: ["  deploy read   read deploy "] },
    });
    expect(response.status).toBe(200);
  });

  it("is case sensitive: READ is not read, and the 403 names it", async () => {
    const response = await call(handlerOf(), { arn: REPORT_JOB, query: { scope: ["READ"] } });
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({
      error: "access_denied",
      error_description: 'The caller may not ask for the scope "READ" of this profile.',
    });
  });

  it("a decoded + (sent as %2B) is a character of one scope, not a separator", async () => {
    const response = await call(handlerOf(), {
      arn: REPORT_JOB,
      query: { scope: ["read+deploy"] },
    });
    expect(response.status).toBe(403);
    expect(response.json.error_description).toContain('"read+deploy"');
  });

  it("16 scopes of 128 characters, all outside: the 403 stays bounded and one line", async () => {
    const ask = Array.from(
      { length: 16 },
      (_, i) => `${String(i).padStart(2, "0")}${"x".repeat(126)}`,
    );
    const response = await call(handlerOf(), {
      arn: REPORT_JOB,
      query: { scope: [ask.join(" ")] },
    });
    expect(response.status).toBe(403);
    expect(response.json.error_description.length).toBeLessThan(2600);
    expect([...response.json.error_description].every((c: string) => c.charCodeAt(0) >= 0x20)).toBe(
      true,
    );
    for (const line of h.logger.lines) {
      expect(JSON.stringify(line)).not.toMatch(/\\n|\\r/);
    }
  });

  it("refuses scope on DELETE with 400 (and nothing is dropped)", async () => {
    const handler = handlerOf();
    const response = await call(handler, {
      arn: ADMIN,
      method: "DELETE",
      query: { scope: ["read"] },
    });
    expect(response.status).toBe(400);
    expect(h.identity.revocations).toEqual([]);
  });

  it("a scope-ish parameter name variant is refused, not ignored", async () => {
    for (const name of ["Scope", "scope[]", "scopes", "__proto__"]) {
      const response = await call(handlerOf(), { arn: REPORT_JOB, query: { [name]: ["deploy"] } });
      expect(response.status, name).toBe(400);
    }
  });
});

describe("attack: a caller NOT allowed for the profile learns nothing", () => {
  it("unknown profile, not allowed, not allowed with an in-ceiling scope, with an unknown scope: one answer", async () => {
    const handler = handlerOf();
    const answers = [
      await call(handler, { arn: STRANGER, profile: "no-such-profile" }),
      await call(handler, { arn: STRANGER }),
      await call(handler, { arn: STRANGER, query: { scope: ["deploy"] } }),
      await call(handler, { arn: STRANGER, query: { scope: ["nonexistent"] } }),
      await call(handler, {
        arn: STRANGER,
        profile: "no-such-profile",
        query: { scope: ["deploy"] },
      }),
      // The admin is not a getter of the profile either.
      await call(handler, { arn: ADMIN, query: { scope: ["admin"] } }),
    ];
    const shapes = answers.map((answer) => ({ status: answer.status, ...answer.json }));
    for (const shape of shapes) expect(shape).toEqual(shapes[0]);
    expect(shapes[0]).toMatchObject({ status: 403, error: "access_denied" });
    expect(h.identity.requests).toEqual([]);
  });

  it("a session name cannot reach another role's ceiling", async () => {
    const handler = handlerOf();
    // Session name "deploy-job" on the report-job role.
    const sneaky = `arn:aws:sts::${ACCOUNT}:assumed-role/report-job/deploy-job`;
    const response = await call(handler, { arn: sneaky, query: { scope: ["deploy"] } });
    expect(response.status).toBe(403);
    expect(response.json.error_description).toContain('"deploy"');
  });
});

describe("attack: callers matching several entries", () => {
  it("a narrow entry plus an account entry: the union, as the contract's 'a plain pattern may ask for any subset' says", async () => {
    const config = parseProfilesConfig(
      rawConfig({
        allowedCallers: [
          { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
          ACCOUNT,
        ],
      }),
    );
    const response = await call(handlerOf(config), {
      arn: REPORT_JOB,
      query: { scope: ["admin"] },
    });
    expect(response.status).toBe(200);
  });

  it("two narrow entries (one wildcard) give only the union of their own ceilings, never the profile's", async () => {
    const config = parseProfilesConfig(
      rawConfig({
        allowedCallers: [
          { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
          { caller: `arn:aws:iam::${ACCOUNT}:role/report-*`, scopes: ["deploy"] },
        ],
      }),
    );
    const handler = handlerOf(config);
    expect(
      (await call(handler, { arn: REPORT_JOB, query: { scope: ["read deploy"] } })).status,
    ).toBe(200);
    const refused = await call(handler, { arn: REPORT_JOB, query: { scope: ["admin"] } });
    expect(refused.status).toBe(403);
  });

  it("an account-ID entry with its own ceiling narrows every principal of the account", async () => {
    const config = parseProfilesConfig(
      rawConfig({ allowedCallers: [{ caller: ACCOUNT, scopes: ["read"] }] }),
    );
    const handler = handlerOf(config);
    expect((await call(handler, { arn: DEPLOY_JOB, query: { scope: ["deploy"] } })).status).toBe(
      403,
    );
    expect((await call(handler, { arn: DEPLOY_JOB, query: { scope: ["read"] } })).status).toBe(200);
  });

  it("a caller whose ceiling lacks the default gets a 403 without scope, not the default", async () => {
    const config = parseProfilesConfig(
      rawConfig({
        allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/deploy-job`, scopes: ["deploy"] }],
      }),
    );
    const response = await call(handlerOf(config), { arn: DEPLOY_JOB });
    expect(response.status).toBe(403);
    expect(h.identity.requests).toEqual([]);
  });

  it("a profile without scopes serves its default only: a subset of the default is refused", async () => {
    const config = parseProfilesConfig({
      profiles: {
        plain: {
          tenantUrl: TENANT,
          secretId: "cyberark/reports",
          applicationId: "app",
          scope: "a b",
          allowedCallers: [ACCOUNT],
        },
      },
    });
    const handler = handlerOf(config);
    expect(
      (await call(handler, { arn: REPORT_JOB, profile: "plain", query: { scope: ["a"] } })).status,
    ).toBe(403);
    expect(
      (await call(handler, { arn: REPORT_JOB, profile: "plain", query: { scope: ["b a"] } }))
        .status,
    ).toBe(200);
  });
});

function problemsOf(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (error) {
    if (error instanceof ProfilesConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("attack: the profiles file", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["scopes on a platform profile", { applicationId: undefined }, /scopes.*custom-app/],
    ["a default outside scopes", { scope: "write" }, /scope.*"write".*not in/],
    [
      "17 scopes",
      { scopes: Array.from({ length: 17 }, (_, i) => `s${i}`), scope: "s1" },
      /17 scopes/,
    ],
    ["an empty scopes", { scopes: [] }, /non-empty/],
    ["a string scopes", { scopes: "read deploy" }, /non-empty array/],
    ["a number in scopes", { scopes: ["read", 7] }, /entry 1 \(7\)/],
    ["a null in scopes", { scopes: ["read", null] }, /entry 1 \(null\)/],
    ["a scope with a space", { scopes: ["read", "de ploy"] }, /entry 1/],
    ["a duplicate scope", { scopes: ["read", "read"] }, /repeats/],
    [
      "an entry ceiling outside the profile's",
      { allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/x`, scopes: ["root"] }] },
      /"root" is not in the profile's "scopes"/,
    ],
    [
      "an entry with an empty ceiling",
      { allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/x`, scopes: [] }] },
      /non-empty/,
    ],
    [
      "an entry with an extra field",
      {
        allowedCallers: [
          { caller: `arn:aws:iam::${ACCOUNT}:role/x`, scopes: ["read"], admin: true },
        ],
      },
      /unknown field "admin"/,
    ],
    [
      "an entry with __proto__",
      {
        allowedCallers: [
          JSON.parse(
            `{"caller":"arn:aws:iam::${ACCOUNT}:role/x","scopes":["read"],"__proto__":{"scopes":["admin"]}}`,
          ),
        ],
      },
      /unknown field "__proto__"/,
    ],
    ["an entry without caller", { allowedCallers: [{ scopes: ["read"] }] }, /"caller" is missing/],
    ["an entry array", { allowedCallers: [["arn"]] }, /pattern string/],
  ];
  for (const [name, extra, expected] of cases) {
    it(`refuses ${name} with one clear line`, () => {
      const raw = rawConfig(extra);
      const profile = raw.profiles.shared as Record<string, unknown>;
      for (const [key, value] of Object.entries(extra))
        if (value === undefined) delete profile[key];
      const problems = problemsOf(() => parseProfilesConfig(raw));
      expect(problems.length).toBeGreaterThan(0);
      expect(
        problems.some((problem) => expected.test(problem)),
        problems.join("\n"),
      ).toBe(true);
      for (const problem of problems) {
        expect(problem).not.toContain("\n");
        expect(problem).toMatch(/shared/);
      }
    });
  }

  it("__proto__ and constructor as scope names stay plain names", () => {
    const config = parseProfilesConfig(
      rawConfig({
        scope: "read",
        scopes: ["read", "__proto__", "constructor"],
        allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] }],
      }),
    );
    return call(handlerOf(config), {
      arn: REPORT_JOB,
      query: { scope: ["__proto__ constructor"] },
    }).then((response) => expect(response.status).toBe(403));
  });

  it("an entry's ceiling on a profile with an invalid scopes is reported once, not crashed on", () => {
    const problems = problemsOf(() => parseProfilesConfig(rawConfig({ scopes: "nope" })));
    expect(problems.length).toBeGreaterThan(0);
  });
});

describe("attack: the granted-callers variable", () => {
  const base = () => parseProfilesConfig(rawConfig());
  const role = `arn:aws:iam::${ACCOUNT}:role/granted`;
  const cases: [string, unknown, RegExp][] = [
    [
      "a grant wider than the profile",
      { profiles: { shared: [{ caller: role, scopes: ["root"] }] } },
      /"root"/,
    ],
    [
      "a __proto__ profile",
      JSON.parse(`{"profiles":{"__proto__":["${role}"]}}`),
      /__proto__.*not in the profiles file/,
    ],
    [
      "a constructor profile",
      { profiles: { constructor: [role] } },
      /constructor.*not in the profiles file/,
    ],
    [
      "a toString profile",
      { profiles: { toString: [role] } },
      /toString.*not in the profiles file/,
    ],
    ["an object admin", { admin: [{ caller: role, scopes: ["read"] }] }, /plain pattern/],
    ["a list of profiles", { profiles: [[role]] }, /.+/],
    ["a null entry", { profiles: { shared: [null] } }, /entry 0/],
    ["scopes null", { profiles: { shared: [{ caller: role, scopes: null }] } }, /.+/],
    ["an unknown top field", { profiles: {}, __proto__x: 1 }, /unknown field/],
  ];
  for (const [name, value, expected] of cases) {
    it(`refuses ${name} with one line naming the variable`, () => {
      const problems = problemsOf(() =>
        withGrantedCallers(base(), JSON.stringify(value), "GRANTED"),
      );
      expect(problems.length).toBeGreaterThan(0);
      expect(
        problems.some((problem) => expected.test(problem)),
        problems.join("\n"),
      ).toBe(true);
      for (const problem of problems) expect(problem.startsWith("GRANTED: ")).toBe(true);
    });
  }

  it("a grant with scopes on a profile that declares none is refused", () => {
    const config = parseProfilesConfig({
      profiles: {
        plain: {
          tenantUrl: TENANT,
          secretId: "cyberark/reports",
          applicationId: "app",
          scope: "a",
        },
      },
    });
    const problems = problemsOf(() =>
      withGrantedCallers(
        config,
        JSON.stringify({ profiles: { plain: [{ caller: role, scopes: ["a"] }] } }),
        "G",
      ),
    );
    expect(problems.join("\n")).toMatch(/declares none/);
  });

  it("a __proto__ payload does not pollute Object.prototype", () => {
    problemsOf(() =>
      withGrantedCallers(
        base(),
        `{"profiles":{"__proto__":{"polluted":true}},"__proto__":{"polluted":true}}`,
        "G",
      ),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a narrowed grant of a caller the file already names plainly is the union (the file's plain entry wins)", async () => {
    const config = withGrantedCallers(
      base(),
      JSON.stringify({
        profiles: {
          shared: [{ caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] }],
        },
      }),
      "G",
    );
    const response = await call(handlerOf(config), {
      arn: REPORT_JOB,
      query: { scope: ["deploy"] },
    });
    // report-job's file entry is read only: the grant cannot widen it.
    expect(response.status).toBe(403);
  });
});

describe("attack: raw query strings through the function URL door", () => {
  async function urlCall(rawQuery: string, arn = DEPLOY_JOB, method = "GET") {
    const vending = createVending({
      vendor: h.newVendor(parseProfilesConfig(rawConfig())),
      clock: h.clock,
      logger: h.logger,
    });
    const handler = functionUrlHandler(
      vending,
      ownFunctionUrl(async () => TEST_URL_CONFIG, h.logger),
    );
    const response = await handler(
      functionUrlEvent({ callerArn: arn, path: "/tokens/shared", rawQuery, method }),
      lambdaContext(),
    );
    return {
      status: response.statusCode,
      json: response.body ? JSON.parse(response.body) : undefined,
    };
  }

  const cases: [string, number][] = [
    ["scope=read+deploy", 200],
    ["scope=read%20deploy", 200],
    ["scope=deploy%20read%20read", 200],
    ["scope=read%2Bdeploy", 403],
    ["scope=READ", 403],
    ["scope=read%09deploy", 400],
    ["scope=read%0Adeploy", 400],
    ["scope=r%C3%A9ad", 400],
    ["scope=%E2%80%8B", 400],
    ["scope=read&scope=deploy", 400],
    ["scope=read&scope=", 400],
    ["scope=", 400],
    ["scope", 400],
    ["scope=%", 403],
    ["scope=%ZZ", 403],
    [`scope=${"read%20".repeat(17)}`, 200],
    [`scope=${"x".repeat(200_000)}`, 400],
    ["Scope=read", 400],
    ["scope=read&min_validity=300&min_validity=300", 400],
  ];
  for (const [rawQuery, status] of cases) {
    it(`${rawQuery.slice(0, 60)} answers ${status}`, async () => {
      const response = await urlCall(rawQuery);
      expect(response.status).toBe(status);
      if (status !== 200)
        expect(Object.keys(response.json).sort()).toEqual([
          "error",
          "error_description",
          "request_id",
        ]);
      expect(JSON.stringify(response.json ?? "").length).toBeLessThan(3000);
    });
  }

  it("DELETE with a scope query is 400 through this door too", async () => {
    expect((await urlCall("scope=read", ADMIN, "DELETE")).status).toBe(400);
  });
});
