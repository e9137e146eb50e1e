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
  ConfigError: () => ConfigError,
  DEFAULTS: () => DEFAULTS,
  DEFAULT_CONFIG_FILE: () => DEFAULT_CONFIG_FILE,
  DEFAULT_MEMBER_ROLE_NAME: () => DEFAULT_MEMBER_ROLE_NAME,
  configJsonSchema: () => configJsonSchema,
  configPath: () => configPath,
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
  id: import_zod.z.string().min(1).optional(),
  workspaceId: import_zod.z.string().min(1).optional(),
  name: glob.optional()
}).refine((s) => s.id !== void 0 || s.workspaceId !== void 0 || s.name !== void 0, {
  message: "a selector needs at least one of id, workspaceId, name"
});
var issuer = import_zod.z.string().transform((v) => v.replace(/^https:\/\//, "").replace(/\/+$/, "")).pipe(
  import_zod.z.string().regex(
    /^[a-z0-9-]+(\.[a-z0-9-]+)+(\/[A-Za-z0-9._~-]+)*$/,
    "an OIDC issuer host/path such as oidc.example.com/id/ABC (https:// optional, no wildcard)"
  )
);
var mode = import_zod.z.enum(["enforce", "observe"]);
var maxPolicyChars = import_zod.z.number().int().min(200).max(1e5);
var maxRemovals = import_zod.z.number().int().min(0);
var maxReverts = import_zod.z.number().int().min(1);
var account = import_zod.z.string().regex(/^\d{12}$/, "an AWS account id: 12 digits (quote it in YAML)");
var acknowledgement = import_zod.z.strictObject({
  role: import_zod.z.string().regex(/^(\d{12}\/)?[\w+=,.@-]{1,64}$/, "a declared role: its name, or <account>/<name> for a role with account"),
  principal: import_zod.z.string().min(1),
  reason: import_zod.z.string().min(3, "say why (a ticket, a plan), at least 3 characters"),
  // YAML reads 2027-03-01 as a date; a quoted string works too.
  expires: import_zod.z.union([import_zod.z.date(), import_zod.z.iso.date()]).transform((v) => typeof v === "string" ? v : v.toISOString().slice(0, 10))
});
var role = import_zod.z.strictObject({
  name: import_zod.z.string().regex(ROLE_NAME, "an IAM role name: 1-64 of letters, digits and +=,.@_-"),
  account: account.optional(),
  trust: import_zod.z.enum(["workload-identity", "oidc"]),
  deployments: import_zod.z.array(selector).min(1).optional(),
  serviceAccounts: import_zod.z.union([import_zod.z.literal("all"), import_zod.z.array(import_zod.z.enum([...COMPONENTS, "webserver"])).min(1)]).optional(),
  mode: mode.optional(),
  maxPolicyChars: maxPolicyChars.optional(),
  maxRemovals: maxRemovals.optional(),
  maxRevertsPerHour: maxReverts.optional()
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
  version: import_zod.z.literal(1),
  organizationId: import_zod.z.string().min(1),
  inventory: import_zod.z.strictObject({
    source: import_zod.z.enum(["api", "file"]),
    path: import_zod.z.string().min(1).optional(),
    identityAccounts: import_zod.z.array(account).min(1).optional(),
    oidcIssuers: import_zod.z.array(issuer).optional(),
    maxShrinkPercent: import_zod.z.number().min(0).max(100).optional()
  }).superRefine((inv, ctx) => {
    if (inv.source === "file" && !inv.path)
      ctx.addIssue({
        code: "custom",
        path: ["path"],
        message: "is required with source: file (a JSON file in the Astro API page shape)"
      });
  }),
  defaults: import_zod.z.strictObject({
    mode: mode.optional(),
    maxPolicyChars: maxPolicyChars.optional(),
    maxRemovals: maxRemovals.optional(),
    maxRevertsPerHour: maxReverts.optional()
  }).optional(),
  memberRoleName: import_zod.z.string().regex(ROLE_NAME, "an IAM role name").optional(),
  findings: import_zod.z.strictObject({
    trustedAccounts: import_zod.z.array(account).optional(),
    acknowledge: import_zod.z.array(acknowledgement).optional()
  }).optional(),
  roles: import_zod.z.array(role).min(1).superRefine((roles, ctx) => {
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
  return {
    ...import_zod.z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    title: "astro-trust.yaml",
    description: 'Which Astro Deployments each IAM role trusts (astro-trust; README "Config").'
  };
}
var DEFAULTS = {
  mode: "enforce",
  maxPolicyChars: 2048,
  maxRemovals: 5,
  maxShrinkPercent: 50,
  maxRevertsPerHour: 3
};
function pathText(path) {
  return path.reduce(
    (acc, p) => typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p),
    ""
  ) || "(top level)";
}
function describeIssue(issue) {
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
function parseConfig(text, file) {
  const lineCounter = new import_yaml.LineCounter();
  const doc = (0, import_yaml.parseDocument)(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML: ${e.message.split("\n")[0]}`)
    );
  }
  const parsed = schema.safeParse(doc.toJS(), { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path;
      const at = locate(doc, lineCounter, path);
      return `${pathText(path)}${at}: ${describeIssue(issue)}`;
    });
    throw new ConfigError(file, problems);
  }
  const raw = parsed.data;
  const d = { ...DEFAULTS, ...raw.defaults };
  const maxShrinkPercent = raw.inventory.maxShrinkPercent ?? DEFAULTS.maxShrinkPercent;
  return {
    file,
    organizationId: raw.organizationId,
    inventory: raw.inventory.source === "file" ? { source: "file", path: (0, import_node_path.resolve)((0, import_node_path.dirname)(file), raw.inventory.path), maxShrinkPercent } : { source: "api", maxShrinkPercent },
    findings: {
      trustedAccounts: [...new Set(raw.findings?.trustedAccounts ?? [])],
      acknowledge: raw.findings?.acknowledge ?? []
    },
    identityRules: {
      ...raw.inventory.identityAccounts ? { identityAccounts: [...new Set(raw.inventory.identityAccounts)] } : {},
      oidcIssuers: [...new Set(raw.inventory.oidcIssuers ?? [])]
    },
    memberRoleName: raw.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME,
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
function locate(doc, lc, path) {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === "object" && node.range) return ` (line ${lc.linePos(node.range[0]).line})`;
  }
  return "";
}
function loadConfig(file) {
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
  return parseConfig(text, file);
}

// src/config/config-path.ts
var DEFAULT_CONFIG_FILE = "astro-trust.yaml";
function configPath(env = process.env) {
  return env.ASTRO_TRUST_CONFIG || DEFAULT_CONFIG_FILE;
}

// src/config/pack.ts
var import_node_path2 = require("node:path");

// src/config/packaged.ts
var PACKAGED_CONFIG_VERSION = 1;

// src/config/pack.ts
function within(root, path) {
  const rel = (0, import_node_path2.relative)(root, path);
  return rel && !rel.startsWith("..") && !(0, import_node_path2.isAbsolute)(rel) ? rel.split(import_node_path2.sep).join("/") : path;
}
function packConfig(config, root) {
  const globs = {};
  for (const role2 of config.roles)
    for (const selector2 of role2.deployments ?? []) if (selector2.name) globs[selector2.name] = globRegExp(selector2.name);
  return {
    packagedConfigVersion: PACKAGED_CONFIG_VERSION,
    config: {
      ...config,
      file: within(root, (0, import_node_path2.resolve)(root, config.file)),
      inventory: config.inventory.source === "file" ? { ...config.inventory, path: within(root, config.inventory.path) } : config.inventory
    },
    globs
  };
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  ConfigError,
  DEFAULTS,
  DEFAULT_CONFIG_FILE,
  DEFAULT_MEMBER_ROLE_NAME,
  configJsonSchema,
  configPath,
  loadConfig,
  packConfig,
  parseConfig
});
