var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// <stdin>
var stdin_exports = {};
__export(stdin_exports, {
  CONFIG_ENV: () => CONFIG_ENV,
  CONFIG_SCHEMA_ID: () => CONFIG_SCHEMA_ID,
  ConfigError: () => ConfigError,
  ConfigNotFoundError: () => ConfigNotFoundError,
  DEFAULTS: () => DEFAULTS,
  DEFAULT_CONFIG_FILE: () => DEFAULT_CONFIG_FILE,
  DEFAULT_MEMBER_ROLE_NAME: () => DEFAULT_MEMBER_ROLE_NAME,
  MAX_ACKNOWLEDGEMENT_YEARS: () => MAX_ACKNOWLEDGEMENT_YEARS,
  configJsonSchema: () => configJsonSchema,
  configPath: () => configPath,
  latestExpiry: () => latestExpiry,
  loadConfig: () => loadConfig,
  packConfig: () => packConfig,
  parseConfig: () => parseConfig
});
module.exports = __toCommonJS(stdin_exports);

// src/config/config.ts
var import_node_fs = require("node:fs");
var import_node_path = require("node:path");
var import_picomatch2 = __toESM(require("picomatch"));
var import_yaml = require("yaml");
var import_zod = require("zod");

// src/domain/glob.ts
var import_picomatch = __toESM(require("picomatch"));
var GLOB_OPTIONS = { strictBrackets: true, dot: true };
function globRegExp(glob2) {
  const re = import_picomatch.default.makeRe(glob2, GLOB_OPTIONS);
  return { source: re.source, flags: re.flags };
}

// src/errors.ts
var AstroTrustError = class extends Error {
  retryable = false;
};
var TerminalError = class extends AstroTrustError {
};
var ConfigError = class extends TerminalError {
  constructor(file, problems, options) {
    super(`${file}: invalid config
${problems.map((p) => `  - ${p}`).join("\n")}`, options);
    this.file = file;
    this.problems = problems;
  }
  file;
  problems;
  name = "ConfigError";
};
var ConfigNotFoundError = class extends TerminalError {
  name = "ConfigNotFoundError";
};

// src/domain/desired.ts
var COMPONENTS = ["scheduler", "worker", "triggerer", "dag-processor", "apiserver", "kpo"];

// src/domain/role-key.ts
function roleKey(name, account2) {
  return account2 ? `${account2}/${name}` : name;
}

// src/config/config.ts
var ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
var glob = import_zod.z.string().min(1).superRefine((value, ctx) => {
  try {
    import_picomatch2.default.makeRe(value, { strictBrackets: true });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `is not a valid glob (${err.message})` });
  }
});
var selector = import_zod.z.strictObject({
  id: import_zod.z.string().min(1).optional().describe("A Deployment id (astro deployment list): exactly that Deployment."),
  workspaceId: import_zod.z.string().min(1).optional().describe("A workspace id: every Deployment in that workspace."),
  name: glob.optional().describe('A glob on the Deployment name ("prod-*"); quote it in YAML when it starts with * or ?.')
}).refine((s) => s.id !== void 0 || s.workspaceId !== void 0 || s.name !== void 0, {
  message: "a selector needs at least one of id, workspaceId, name"
}).meta({
  description: "Selects Deployments: every key given must match (a Deployment is declared if any selector matches).",
  minProperties: 1
});
var issuer = import_zod.z.string().regex(
  /^(https:\/\/)?[a-z0-9-]+(\.[a-z0-9-]+)+(\/[A-Za-z0-9._~-]+)*\/*$/,
  "an OIDC issuer host/path such as oidc.example.com/id/ABC (https:// optional, no wildcard)"
).transform((v) => v.replace(/^https:\/\//, "").replace(/\/+$/, ""));
var mode = import_zod.z.enum(["enforce", "observe"]);
var maxPolicyChars = import_zod.z.number().int().min(200).max(1e5);
var maxRemovals = import_zod.z.number().int().min(0);
var maxReverts = import_zod.z.number().int().min(1);
var account = import_zod.z.string().regex(/^\d{12}$/, "an AWS account id: 12 digits (quote it in YAML)");
var WHERE_IDS = 'the id is printed after each finding by `astro-trust plan` ("id ..."), in `plan --json` as roles[].findings[].id, and in the Slack alert ("id ...")';
var acknowledgement = import_zod.z.strictObject({
  finding: import_zod.z.string().regex(/^[0-9a-f]{12,64}$/, `a finding id (lower-case hex, 12 or more characters): ${WHERE_IDS}`).describe("The id of the finding, as plan, plan --json and the Slack alert print it."),
  reason: import_zod.z.string().min(3, "say why (a ticket, a plan), at least 3 characters").describe("Why the finding may stay (a ticket, a plan); at least 3 characters."),
  // YAML reads 2027-03-01 as a date; a quoted string works too.
  expires: import_zod.z.union([import_zod.z.date(), import_zod.z.iso.date()]).transform((v) => typeof v === "string" ? v : v.toISOString().slice(0, 10)).describe("YYYY-MM-DD (UTC), at most a year ahead: from 00:00 that day the finding is back.")
}).describe("A known finding, by its id: not alerted and not counted for exit 3 until it expires.");
var role = import_zod.z.strictObject({
  name: import_zod.z.string().regex(ROLE_NAME, "an IAM role name: 1-64 of letters, digits and +=,.@_-").describe("The IAM role name (not its ARN); astro-trust never creates roles."),
  account: account.optional().describe(
    "The role's AWS account (quoted); default the account of the credentials astro-trust runs with. Named <account>/<name> everywhere (docs/accounts.md)."
  ),
  trust: import_zod.z.enum(["workload-identity", "oidc"]).describe(
    "workload-identity: each Deployment's workload identity role may sts:AssumeRole; oidc: the Deployment's service accounts through its cluster's OIDC issuer (sts:AssumeRoleWithWebIdentity)."
  ),
  deployments: import_zod.z.array(selector).min(1).optional().describe(
    "The Deployments the role trusts: a Deployment is declared if any selector matches. Required for workload-identity; an oidc role without it trusts the Deployments whose workload identity is this role."
  ),
  serviceAccounts: import_zod.z.union([import_zod.z.literal("all"), import_zod.z.array(import_zod.z.enum([...COMPONENTS, "webserver"])).min(1)]).optional().describe(
    'oidc only: "all" (every service account of the namespace, <ns>:*; the default) or a list of components.'
  ),
  mode: mode.optional().describe("enforce: write and revert drift; observe: report only, never write. Default defaults.mode."),
  maxPolicyChars: maxPolicyChars.optional().describe("This role's trust policy length quota; default defaults.maxPolicyChars."),
  maxRemovals: maxRemovals.optional().describe("Most trusted identities one run may remove from this role; default defaults.maxRemovals."),
  maxRevertsPerHour: maxReverts.optional().describe(
    "Drift reverts of this role per hour before astro-trust stops fighting another writer; default defaults.maxRevertsPerHour."
  )
}).meta({
  description: "A role whose trust policy astro-trust keeps equal to the Deployments it declares.",
  allOf: [
    {
      if: { properties: { trust: { const: "workload-identity" } } },
      // `true`: the key as described above; strict Ajv wants every required key defined where it is required.
      then: {
        properties: { deployments: true },
        required: ["deployments"],
        not: { properties: { serviceAccounts: true }, required: ["serviceAccounts"] }
      }
    }
  ]
}).superRefine((r, ctx) => {
  if (r.trust === "workload-identity" && r.deployments === void 0) {
    ctx.addIssue({
      code: "custom",
      path: ["deployments"],
      message: "is required for trust: workload-identity (only an oidc role may omit it, to trust the Deployments that use it as their identity)"
    });
  }
  if (r.trust === "workload-identity" && r.serviceAccounts !== void 0) {
    ctx.addIssue({ code: "custom", path: ["serviceAccounts"], message: "applies only to trust: oidc" });
  }
});
var DEFAULT_MEMBER_ROLE_NAME = "astro-trust-member";
var schema = import_zod.z.strictObject({
  version: import_zod.z.literal(1).describe("The config format: 1."),
  organizationId: import_zod.z.string().min(1).describe(
    "The Astro organization whose Deployments are listed (Organization settings, or astro organization list)."
  ),
  inventory: import_zod.z.strictObject({
    source: import_zod.z.enum(["api", "file"]).describe("api: the Astro API (ASTRO_API_TOKEN); file: a JSON file in the Astro API page shape."),
    path: import_zod.z.string().min(1).optional().describe("With source: file, the inventory file, relative to this config file."),
    identityAccounts: import_zod.z.array(account).min(1).optional().describe(
      "AWS accounts whose roles may be Deployment identities; unset: Astro-managed identities (role/astro-<namespace>) in any account and roles in the managed role's own account."
    ),
    oidcIssuers: import_zod.z.array(issuer).optional().describe("OIDC issuers (host/path) trusted besides EKS cluster issuers: ones you run yourself."),
    maxShrinkPercent: import_zod.z.number().min(0).max(100).optional().describe("A listing with this share fewer Deployments than the last one is refused (default 50)."),
    shrinkWindow: import_zod.z.string().regex(/^\d{1,6}[smhd]$/, "a duration such as 24h, 90m or 2d (0h: compare with the last listing only)").optional().describe(
      "A listing is compared with the largest listing seen within this time (default 24h), so a collapse in small steps is refused like a sudden one."
    )
  }).meta({
    description: "Where the Deployments come from, and which identities and issuers may be trusted at all.",
    if: { properties: { source: { const: "file" } } },
    then: { properties: { path: true }, required: ["path"] }
  }).superRefine((inv, ctx) => {
    if (inv.source === "file" && !inv.path)
      ctx.addIssue({
        code: "custom",
        path: ["path"],
        message: "is required with source: file (a JSON file in the Astro API page shape)"
      });
  }),
  defaults: import_zod.z.strictObject({
    mode: mode.optional().describe("enforce: apply changes and revert drift; observe: alert only, never write (default enforce)."),
    maxPolicyChars: maxPolicyChars.optional().describe(`The account's "Role trust policy length" quota, whitespace not counted (default 2048).`),
    maxRemovals: maxRemovals.optional().describe(
      "A run that would remove more trusted identities than this from one role stops and alerts (default 5)."
    ),
    maxRevertsPerHour: maxReverts.optional().describe("Flap guard: more drift reverts of one role in an hour stop reverting it and alert (default 3)."),
    iamRequestsPerSecond: import_zod.z.number().positive("requests a second, above 0 (default 10)").max(1e3, "requests a second, at most 1000 (default 10)").optional().describe(
      "Requests a second astro-trust sends to IAM in each AWS account, reads and writes together (default 10); it slows down by itself when IAM answers Throttling. On Lambda this is per concurrent invocation (docs/deploy.md)."
    )
  }).optional().describe("Settings for every role that does not set its own."),
  // The member stack also creates <memberRoleName>-reader (DESIGN 7.1): 57 characters leave room for the suffix.
  memberRoleName: import_zod.z.string().regex(/^[\w+=,.@-]{1,57}$/, "an IAM role name of at most 57 characters (the member stack adds <name>-reader)").optional().describe(
    "The role astro-trust assumes in the other accounts roles name (default astro-trust-member); the member stack also creates <name>-reader."
  ),
  findings: import_zod.z.strictObject({
    trustedAccounts: import_zod.z.array(account).optional().describe("Accounts that may appear in statements astro-trust does not own without a finding."),
    trustedOrganizations: import_zod.z.array(
      import_zod.z.string().regex(/^o-[a-z0-9]{10,32}$/, "an AWS Organizations id: o- and 10 to 32 lower-case letters or digits")
    ).optional().describe(
      "AWS Organizations ids: a * principal confined by aws:PrincipalOrgID to one of them raises no finding."
    ),
    acknowledge: import_zod.z.array(acknowledgement).optional().describe("Known findings, each by its id, with a reason and an expiry.")
  }).optional().describe("How trust found in statements astro-trust does not own is judged."),
  roles: import_zod.z.array(role).min(1).describe("The managed roles; a role is its account and name, declared once.").superRefine((roles, ctx) => {
    const seen = /* @__PURE__ */ new Map();
    roles.forEach((r, i) => {
      const key = roleKey(r.name, r.account);
      const prev = seen.get(key);
      if (prev !== void 0)
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `duplicates roles[${prev}] (${key}): declare each role once per account`
        });
      seen.set(key, i);
    });
  })
});
function configJsonSchema() {
  const { $schema, ...rest } = import_zod.z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    // A date (YAML 1.1 reads 2027-03-01 as one) is, to an editor, the string it is written as.
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === "date") Object.assign(ctx.jsonSchema, DATE_STRING);
    }
  });
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: "astro-trust.yaml",
    description: 'Which Astro Deployments each IAM role trusts (astro-trust; README "Config").',
    ...rest
  };
}
var CONFIG_SCHEMA_ID = "urn:astro-trust:config:1";
var DATE_STRING = { type: "string", format: "date" };
var DEFAULTS = {
  mode: "enforce",
  maxPolicyChars: 2048,
  maxRemovals: 5,
  maxShrinkPercent: 50,
  shrinkWindow: "24h",
  maxRevertsPerHour: 3,
  iamRequestsPerSecond: 10
};
function durationMs(text) {
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[text.slice(-1)];
  return Number(text.slice(0, -1)) * unit;
}
function pathText(path) {
  return path.reduce(
    (acc, p) => typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p),
    ""
  ) || "(top level)";
}
function releaseTwoAck(issue) {
  const path = issue.path;
  return issue.code === "unrecognized_keys" && path.length === 3 && path[0] === "findings" && path[1] === "acknowledge" && issue.keys.some((k) => k === "role" || k === "principal");
}
function describeIssue(issue) {
  if (releaseTwoAck(issue))
    return `acknowledges by role + principal (release 2), which would also silence a new, wider grant to the same principal: name the finding by its id instead (finding: <id>, with reason and expires); ${WHERE_IDS}`;
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}; check the spelling (README "Config", or schema/astro-trust.schema.json in an editor)`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_type":
      if (issue.expected === "string" && typeof issue.input === "number")
        return `expected string, got number: quote it in YAML ("${issue.input}"; an account id like 012345678901 loses its leading zero otherwise)`;
      return issue.input === void 0 ? `is required (expected ${issue.expected})` : `expected ${issue.expected}, got ${typeof issue.input === "object" ? Array.isArray(issue.input) ? "array" : issue.input === null ? "null" : "object" : typeof issue.input}`;
    case "invalid_union":
      return 'expected "all" or a list of service account components: ' + [...COMPONENTS].join(", ");
    default:
      return issue.message;
  }
}
var MAX_ACKNOWLEDGEMENT_YEARS = 1;
function latestExpiry(nowMs) {
  const d = new Date(nowMs);
  d.setUTCFullYear(d.getUTCFullYear() + MAX_ACKNOWLEDGEMENT_YEARS);
  return d.toISOString().slice(0, 10);
}
function parseConfig(text, file, options = {}) {
  const lineCounter = new import_yaml.LineCounter();
  const doc = (0, import_yaml.parseDocument)(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      file,
      doc.errors.map((e) => yamlProblem(e, text))
    );
  const parsed = schema.safeParse(doc.toJS(), { reportInput: true });
  if (!parsed.success) {
    const oldForm = new Set(
      parsed.error.issues.filter(releaseTwoAck).map((i) => i.path[2])
    );
    const issues = parsed.error.issues.filter((issue) => {
      const path = issue.path;
      return !(path[0] === "findings" && path[1] === "acknowledge" && oldForm.has(path[2]) && path[3] === "finding");
    });
    const problems = issues.map((issue) => {
      const path = issue.path;
      const at = locate(doc, lineCounter, path);
      return `${pathText(path)}${at}: ${describeIssue(issue)}`;
    });
    throw new ConfigError(file, problems);
  }
  const raw = parsed.data;
  const latest = latestExpiry(options.now ?? Date.now());
  const tooLate = (raw.findings?.acknowledge ?? []).flatMap(
    (a, i) => a.expires > latest ? [
      `findings.acknowledge[${i}].expires${locate(doc, lineCounter, ["findings", "acknowledge", i, "expires"])}: ${a.expires} is more than a year ahead (latest: ${latest}); acknowledge for at most a year, then look again`
    ] : []
  );
  if (tooLate.length > 0) throw new ConfigError(file, tooLate);
  const d = { ...DEFAULTS, ...raw.defaults };
  const maxShrinkPercent = raw.inventory.maxShrinkPercent ?? DEFAULTS.maxShrinkPercent;
  const shrinkWindowMs = durationMs(raw.inventory.shrinkWindow ?? DEFAULTS.shrinkWindow);
  return {
    file,
    organizationId: raw.organizationId,
    inventory: raw.inventory.source === "file" ? { source: "file", path: (0, import_node_path.resolve)((0, import_node_path.dirname)(file), raw.inventory.path), maxShrinkPercent, shrinkWindowMs } : { source: "api", maxShrinkPercent, shrinkWindowMs },
    findings: {
      trustedAccounts: [...new Set(raw.findings?.trustedAccounts ?? [])],
      trustedOrganizations: [...new Set(raw.findings?.trustedOrganizations ?? [])],
      acknowledge: raw.findings?.acknowledge ?? []
    },
    identityRules: {
      ...raw.inventory.identityAccounts ? { identityAccounts: [...new Set(raw.inventory.identityAccounts)] } : {},
      oidcIssuers: [...new Set(raw.inventory.oidcIssuers ?? [])]
    },
    memberRoleName: raw.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME,
    iamRequestsPerSecond: d.iamRequestsPerSecond,
    roles: raw.roles.map((r) => ({
      name: roleKey(r.name, r.account),
      roleName: r.name,
      ...r.account ? { account: r.account } : {},
      trust: r.trust,
      mode: r.mode ?? d.mode,
      maxPolicyChars: r.maxPolicyChars ?? d.maxPolicyChars,
      maxRemovals: r.maxRemovals ?? d.maxRemovals,
      maxRevertsPerHour: r.maxRevertsPerHour ?? d.maxRevertsPerHour,
      ...r.deployments ? { deployments: r.deployments } : {},
      serviceAccounts: r.serviceAccounts === void 0 || r.serviceAccounts === "all" ? "all" : [...new Set(r.serviceAccounts.map((c) => c === "webserver" ? "apiserver" : c))]
    }))
  };
}
function yamlProblem(e, text) {
  const what = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const pos = e.linePos?.[0];
  if (!pos) return `YAML: ${what}`;
  const line = (text.split(/\r?\n/)[pos.line - 1] ?? "").replace(/\t/g, " ");
  return `line ${pos.line}, column ${pos.col}: YAML: ${what}
      ${line}
      ${" ".repeat(Math.max(0, pos.col - 1))}^`;
}
function locate(doc, lc, path) {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === "object" && node.range) return ` (line ${lc.linePos(node.range[0]).line})`;
  }
  return "";
}
function loadConfig(file, options = {}) {
  const path = (0, import_node_path.resolve)(file);
  let text;
  try {
    text = (0, import_node_fs.readFileSync)(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      file,
      [`cannot read the file: ${err.code ?? err.message}`],
      { cause: err }
    );
  }
  return parseConfig(text, file, options);
}

// src/config/discovery.ts
var import_node_fs2 = require("node:fs");
var import_node_path2 = require("node:path");
var CONFIG_ENV = "ASTRO_TRUST_CONFIG";
var DEFAULT_CONFIG_FILE = "astro-trust.yaml";
function configPath(env, cwd, flag) {
  const at = (file) => (0, import_node_path2.isAbsolute)(file) ? file : (0, import_node_path2.join)(cwd, file);
  if (flag !== void 0 && flag !== "") {
    if (!(0, import_node_fs2.existsSync)(at(flag))) throw new ConfigNotFoundError(`--config ${flag}: no such file`);
    return { file: flag, from: "--config" };
  }
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) {
    if (!(0, import_node_fs2.existsSync)(at(fromEnv))) throw new ConfigNotFoundError(`${CONFIG_ENV}=${fromEnv}: no such file`);
    return { file: fromEnv, from: CONFIG_ENV };
  }
  if ((0, import_node_fs2.existsSync)(at(DEFAULT_CONFIG_FILE))) return { file: DEFAULT_CONFIG_FILE, from: "default" };
  throw new ConfigNotFoundError(
    `no config file: --config was not given, ${CONFIG_ENV} is not set, and there is no ./${DEFAULT_CONFIG_FILE} in ${cwd}. Pass --config FILE, set ${CONFIG_ENV}, or create ./${DEFAULT_CONFIG_FILE} (astro-trust init writes one from the trust IAM holds today)`
  );
}

// src/config/pack.ts
var import_node_path3 = require("node:path");

// src/config/packaged.ts
var PACKAGED_CONFIG_VERSION = 1;

// src/config/pack.ts
function within(root, path) {
  const rel = (0, import_node_path3.relative)(root, path);
  return rel && !rel.startsWith("..") && !(0, import_node_path3.isAbsolute)(rel) ? rel.split(import_node_path3.sep).join("/") : path;
}
function packConfig(config, root) {
  const globs = {};
  for (const role2 of config.roles)
    for (const selector2 of role2.deployments ?? []) if (selector2.name) globs[selector2.name] = globRegExp(selector2.name);
  return {
    packagedConfigVersion: PACKAGED_CONFIG_VERSION,
    config: {
      ...config,
      file: within(root, (0, import_node_path3.resolve)(root, config.file)),
      inventory: config.inventory.source === "file" ? { ...config.inventory, path: within(root, config.inventory.path) } : config.inventory
    },
    globs
  };
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  CONFIG_ENV,
  CONFIG_SCHEMA_ID,
  ConfigError,
  ConfigNotFoundError,
  DEFAULTS,
  DEFAULT_CONFIG_FILE,
  DEFAULT_MEMBER_ROLE_NAME,
  MAX_ACKNOWLEDGEMENT_YEARS,
  configJsonSchema,
  configPath,
  latestExpiry,
  loadConfig,
  packConfig,
  parseConfig
});
