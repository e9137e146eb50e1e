/**
 * `astro-trust.yaml` (DESIGN 3.1): parsed with `yaml`, validated with `zod`. Every error names the file,
 * the line, the key path and what was expected. Nothing talks to AWS before this succeeds.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import picomatch from 'picomatch';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { z } from 'zod';
import { COMPONENTS, type IdentityRules, type RoleSpec } from '../domain/desired.js';
import type { FindingRules } from '../domain/findings.js';
import { roleKey } from '../domain/role-key.js';
import { ConfigError } from '../errors.js';

export { ConfigError };

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

const glob = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    try {
      picomatch.makeRe(value, { strictBrackets: true });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `is not a valid glob (${(err as Error).message})` });
    }
  });

const selector = z
  .strictObject({
    id: z.string().min(1).optional().describe('A Deployment id (astro deployment list): exactly that Deployment.'),
    workspaceId: z.string().min(1).optional().describe('A workspace id: every Deployment in that workspace.'),
    name: glob
      .optional()
      .describe('A glob on the Deployment name ("prod-*"); quote it in YAML when it starts with * or ?.'),
  })
  .refine((s) => s.id !== undefined || s.workspaceId !== undefined || s.name !== undefined, {
    message: 'a selector needs at least one of id, workspaceId, name',
  })
  // JSON Schema's way of saying the refine above: a selector names at least one of its keys.
  .meta({
    description: 'Selects Deployments: every key given must match (a Deployment is declared if any selector matches).',
    minProperties: 1,
  });

// An issuer as IAM names it: host and path, no scheme, no wildcard (a wildcard would trust any cluster).
// Checked before the transform, so the JSON Schema (the input side) carries the same pattern.
const issuer = z
  .string()
  .regex(
    /^(https:\/\/)?[a-z0-9-]+(\.[a-z0-9-]+)+(\/[A-Za-z0-9._~-]+)*\/*$/,
    'an OIDC issuer host/path such as oidc.example.com/id/ABC (https:// optional, no wildcard)',
  )
  .transform((v) => v.replace(/^https:\/\//, '').replace(/\/+$/, ''));

const mode = z.enum(['enforce', 'observe']);
const maxPolicyChars = z.number().int().min(200).max(100_000);
const maxRemovals = z.number().int().min(0);
const maxReverts = z.number().int().min(1);
const account = z.string().regex(/^\d{12}$/, 'an AWS account id: 12 digits (quote it in YAML)');

/** Where a person finds a finding's id: said by every message about `findings.acknowledge`. */
const WHERE_IDS =
  'the id is printed after each finding by `astro-trust plan` ("id ..."), in `plan --json` as roles[].findings[].id, and in the Slack alert ("id ...")';

const acknowledgement = z
  .strictObject({
    finding: z
      .string()
      .regex(/^[0-9a-f]{12,64}$/, `a finding id (lower-case hex, 12 or more characters): ${WHERE_IDS}`)
      .describe('The id of the finding, as plan, plan --json and the Slack alert print it.'),
    reason: z
      .string()
      .min(3, 'say why (a ticket, a plan), at least 3 characters')
      .describe('Why the finding may stay (a ticket, a plan); at least 3 characters.'),
    // YAML reads 2027-03-01 as a date; a quoted string works too.
    expires: z
      .union([z.date(), z.iso.date()])
      .transform((v) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10)))
      .describe('YYYY-MM-DD (UTC), at most a year ahead: from 00:00 that day the finding is back.'),
  })
  .describe('A known finding, by its id: not alerted and not counted for exit 3 until it expires.');

const role = z
  .strictObject({
    name: z
      .string()
      .regex(ROLE_NAME, 'an IAM role name: 1-64 of letters, digits and +=,.@_-')
      .describe('The IAM role name (not its ARN); astro-trust never creates roles.'),
    account: account
      .optional()
      .describe(
        "The role's AWS account (quoted); default the account of the credentials astro-trust runs with. Named <account>/<name> everywhere (docs/accounts.md).",
      ),
    trust: z
      .enum(['workload-identity', 'oidc'])
      .describe(
        "workload-identity: each Deployment's workload identity role may sts:AssumeRole; oidc: the Deployment's service accounts through its cluster's OIDC issuer (sts:AssumeRoleWithWebIdentity).",
      ),
    deployments: z
      .array(selector)
      .min(1)
      .optional()
      .describe(
        'The Deployments the role trusts: a Deployment is declared if any selector matches. Required for workload-identity; an oidc role without it trusts the Deployments whose workload identity is this role.',
      ),
    serviceAccounts: z
      .union([z.literal('all'), z.array(z.enum([...COMPONENTS, 'webserver'])).min(1)])
      .optional()
      .describe(
        'oidc only: "all" (every service account of the namespace, <ns>:*; the default) or a list of components.',
      ),
    mode: mode
      .optional()
      .describe('enforce: write and revert drift; observe: report only, never write. Default defaults.mode.'),
    maxPolicyChars: maxPolicyChars
      .optional()
      .describe("This role's trust policy length quota; default defaults.maxPolicyChars."),
    maxRemovals: maxRemovals
      .optional()
      .describe('Most trusted identities one run may remove from this role; default defaults.maxRemovals.'),
    maxRevertsPerHour: maxReverts
      .optional()
      .describe(
        'Drift reverts of this role per hour before astro-trust stops fighting another writer; default defaults.maxRevertsPerHour.',
      ),
  })
  // JSON Schema's way of saying the superRefine below, for editors.
  .meta({
    description: 'A role whose trust policy astro-trust keeps equal to the Deployments it declares.',
    allOf: [
      {
        if: { properties: { trust: { const: 'workload-identity' } } },
        // `true`: the key as described above; strict Ajv wants every required key defined where it is required.
        then: {
          properties: { deployments: true },
          required: ['deployments'],
          not: { properties: { serviceAccounts: true }, required: ['serviceAccounts'] },
        },
      },
    ],
  })
  .superRefine((r, ctx) => {
    if (r.trust === 'workload-identity' && r.deployments === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['deployments'],
        message:
          'is required for trust: workload-identity (only an oidc role may omit it, to trust the Deployments that use it as their identity)',
      });
    }
    if (r.trust === 'workload-identity' && r.serviceAccounts !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['serviceAccounts'], message: 'applies only to trust: oidc' });
    }
  });

/** The role assumed in other accounts (deploy/member-account.yml creates it). */
export const DEFAULT_MEMBER_ROLE_NAME = 'astro-trust-member';

const schema = z.strictObject({
  version: z.literal(1).describe('The config format: 1.'),
  organizationId: z
    .string()
    .min(1)
    .describe(
      'The Astro organization whose Deployments are listed (Organization settings, or astro organization list).',
    ),
  inventory: z
    .strictObject({
      source: z
        .enum(['api', 'file'])
        .describe('api: the Astro API (ASTRO_API_TOKEN); file: a JSON file in the Astro API page shape.'),
      path: z
        .string()
        .min(1)
        .optional()
        .describe('With source: file, the inventory file, relative to this config file.'),
      identityAccounts: z
        .array(account)
        .min(1)
        .optional()
        .describe(
          "AWS accounts whose roles may be Deployment identities; unset: Astro-managed identities (role/astro-<namespace>) in any account and roles in the managed role's own account.",
        ),
      oidcIssuers: z
        .array(issuer)
        .optional()
        .describe('OIDC issuers (host/path) trusted besides EKS cluster issuers: ones you run yourself.'),
      maxShrinkPercent: z
        .number()
        .min(0)
        .max(100)
        .optional()
        .describe('A listing with this share fewer Deployments than the last one is refused (default 50).'),
      shrinkWindow: z
        .string()
        .regex(/^\d{1,6}[smhd]$/, 'a duration such as 24h, 90m or 2d (0h: compare with the last listing only)')
        .optional()
        .describe(
          'A listing is compared with the largest listing seen within this time (default 24h), so a collapse in small steps is refused like a sudden one.',
        ),
    })
    .meta({
      description: 'Where the Deployments come from, and which identities and issuers may be trusted at all.',
      if: { properties: { source: { const: 'file' } } },
      then: { properties: { path: true }, required: ['path'] },
    })
    .superRefine((inv, ctx) => {
      if (inv.source === 'file' && !inv.path)
        ctx.addIssue({
          code: 'custom',
          path: ['path'],
          message: 'is required with source: file (a JSON file in the Astro API page shape)',
        });
    }),
  defaults: z
    .strictObject({
      mode: mode
        .optional()
        .describe('enforce: apply changes and revert drift; observe: alert only, never write (default enforce).'),
      maxPolicyChars: maxPolicyChars
        .optional()
        .describe(`The account's "Role trust policy length" quota, whitespace not counted (default 2048).`),
      maxRemovals: maxRemovals
        .optional()
        .describe(
          'A run that would remove more trusted identities than this from one role stops and alerts (default 5).',
        ),
      maxRevertsPerHour: maxReverts
        .optional()
        .describe('Flap guard: more drift reverts of one role in an hour stop reverting it and alert (default 3).'),
      iamRequestsPerSecond: z
        .number()
        .positive('requests a second, above 0 (default 10)')
        .max(1000, 'requests a second, at most 1000 (default 10)')
        .optional()
        .describe(
          'Requests a second astro-trust sends to IAM in each AWS account, reads and writes together (default 10); it slows down by itself when IAM answers Throttling. On Lambda this is per concurrent invocation (docs/deploy.md).',
        ),
    })
    .optional()
    .describe('Settings for every role that does not set its own.'),
  // The member stack also creates <memberRoleName>-reader (DESIGN 7.1): 57 characters leave room for the suffix.
  memberRoleName: z
    .string()
    .regex(/^[\w+=,.@-]{1,57}$/, 'an IAM role name of at most 57 characters (the member stack adds <name>-reader)')
    .optional()
    .describe(
      'The role astro-trust assumes in the other accounts roles name (default astro-trust-member); the member stack also creates <name>-reader.',
    ),
  findings: z
    .strictObject({
      trustedAccounts: z
        .array(account)
        .optional()
        .describe('Accounts that may appear in statements astro-trust does not own without a finding.'),
      trustedOrganizations: z
        .array(
          z
            .string()
            .regex(/^o-[a-z0-9]{10,32}$/, 'an AWS Organizations id: o- and 10 to 32 lower-case letters or digits'),
        )
        .optional()
        .describe(
          'AWS Organizations ids: a * principal confined by aws:PrincipalOrgID to one of them raises no finding.',
        ),
      acknowledge: z
        .array(acknowledgement)
        .optional()
        .describe('Known findings, each by its id, with a reason and an expiry.'),
    })
    .optional()
    .describe('How trust found in statements astro-trust does not own is judged.'),
  roles: z
    .array(role)
    .min(1)
    .describe('The managed roles; a role is its account and name, declared once.')
    .superRefine((roles, ctx) => {
      // A role is its account and name: the same name may be declared once per account (DESIGN 3.6).
      const seen = new Map<string, number>();
      roles.forEach((r, i) => {
        const key = roleKey(r.name, r.account);
        const prev = seen.get(key);
        if (prev !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [i, 'name'],
            message: `duplicates roles[${prev}] (${key}): declare each role once per account`,
          });
        seen.set(key, i);
      });
    }),
});

export type RawConfig = z.infer<typeof schema>;

/**
 * The config's JSON Schema, generated from the same zod schema the loader uses (editors: the
 * `yaml-language-server: $schema=` comment). `npm run schema` writes it to schema/astro-trust.schema.json.
 */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    // A date (YAML 1.1 reads 2027-03-01 as one) is, to an editor, the string it is written as.
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === 'date') Object.assign(ctx.jsonSchema, DATE_STRING);
    },
  });
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'astro-trust.yaml',
    description: 'Which Astro Deployments each IAM role trusts (astro-trust; README "Config").',
    ...rest,
  };
}

/** The config schema's `$id`: a name, not a place (editors find the file by the `$schema=` comment). */
export const CONFIG_SCHEMA_ID = 'urn:astro-trust:config:1';
const DATE_STRING = { type: 'string', format: 'date' };

export interface Config {
  file: string;
  organizationId: string;
  inventory: ({ source: 'api' } | { source: 'file'; path: string }) & {
    maxShrinkPercent: number;
    /** `inventory.shrinkWindow`: a listing is compared with the largest seen this long back (DESIGN 7.2). */
    shrinkWindowMs: number;
  };
  /** Which Deployment identities and OIDC issuers may be trusted at all (DESIGN 6.2). */
  identityRules: IdentityRules;
  /** Accounts allowed in foreign statements, and findings a person has acknowledged (DESIGN 3.5). */
  findings: FindingRules;
  roles: RoleSpec[];
  /** The role astro-trust assumes in each account a role names (DESIGN 3.6). */
  memberRoleName: string;
  /** The client-side limit on IAM requests per account and second (DESIGN 7.4). */
  iamRequestsPerSecond: number;
}

export const DEFAULTS = {
  mode: 'enforce',
  maxPolicyChars: 2048,
  maxRemovals: 5,
  maxShrinkPercent: 50,
  shrinkWindow: '24h',
  maxRevertsPerHour: 3,
  iamRequestsPerSecond: 10,
} as const;

/** `24h`, `90m`, `45s`, `2d` in milliseconds. */
function durationMs(text: string): number {
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[text.slice(-1) as 's' | 'm' | 'h' | 'd'];
  return Number(text.slice(0, -1)) * unit;
}

function pathText(path: PropertyKey[]): string {
  return (
    path.reduce<string>(
      (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
      '',
    ) || '(top level)'
  );
}

/** `findings.acknowledge[i]` written the release-2 way (role + principal): refused, saying where the id is. */
function releaseTwoAck(issue: z.core.$ZodIssue): boolean {
  const path = issue.path as PropertyKey[];
  return (
    issue.code === 'unrecognized_keys' &&
    path.length === 3 &&
    path[0] === 'findings' &&
    path[1] === 'acknowledge' &&
    issue.keys.some((k) => k === 'role' || k === 'principal')
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (releaseTwoAck(issue))
    return (
      'acknowledges by role + principal (release 2), which would also silence a new, wider grant to the same principal: ' +
      `name the finding by its id instead (finding: <id>, with reason and expires); ${WHERE_IDS}`
    );
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; check the spelling (README "Config", or schema/astro-trust.schema.json in an editor)`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      if (issue.expected === 'string' && typeof issue.input === 'number')
        return `expected string, got number: quote it in YAML ("${issue.input}"; an account id like 012345678901 loses its leading zero otherwise)`;
      return issue.input === undefined
        ? `is required (expected ${issue.expected})`
        : `expected ${issue.expected}, got ${typeof issue.input === 'object' ? (Array.isArray(issue.input) ? 'array' : issue.input === null ? 'null' : 'object') : typeof issue.input}`;
    case 'invalid_union':
      return 'expected "all" or a list of service account components: ' + [...COMPONENTS].join(', ');
    default:
      return issue.message;
  }
}

/** An acknowledgement may run at most this long from the day the config is loaded (DESIGN 7.1). */
export const MAX_ACKNOWLEDGEMENT_YEARS = 1;

/** The last `expires` date accepted on the day `nowMs` falls on (UTC): the same date one year later. */
export function latestExpiry(nowMs: number): string {
  const d = new Date(nowMs);
  d.setUTCFullYear(d.getUTCFullYear() + MAX_ACKNOWLEDGEMENT_YEARS);
  return d.toISOString().slice(0, 10);
}

/**
 * Parses and validates config text; `file` is used in messages and to resolve relative paths. `now` (ms) is the
 * day acknowledgements are checked against (at most a year ahead).
 */
export function parseConfig(text: string, file: string, options: { now?: number } = {}): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      file,
      doc.errors.map((e) => yamlProblem(e, text)),
    );
  const parsed = schema.safeParse(doc.toJS(), { reportInput: true });
  if (!parsed.success) {
    // An entry refused for its release-2 form says so once, not also that it lacks `finding`.
    const oldForm = new Set(
      parsed.error.issues.filter(releaseTwoAck).map((i) => (i.path as PropertyKey[])[2] as number),
    );
    const issues = parsed.error.issues.filter((issue) => {
      const path = issue.path as PropertyKey[];
      return !(
        path[0] === 'findings' &&
        path[1] === 'acknowledge' &&
        oldForm.has(path[2] as number) &&
        path[3] === 'finding'
      );
    });
    const problems = issues.map((issue) => {
      const path = issue.path as PropertyKey[];
      const at = locate(doc, lineCounter, path);
      return `${pathText(path)}${at}: ${describeIssue(issue)}`;
    });
    throw new ConfigError(file, problems);
  }
  const raw = parsed.data;
  const latest = latestExpiry(options.now ?? Date.now());
  const tooLate = (raw.findings?.acknowledge ?? []).flatMap((a, i) =>
    a.expires > latest
      ? [
          `findings.acknowledge[${i}].expires${locate(doc, lineCounter, ['findings', 'acknowledge', i, 'expires'])}: ${a.expires} is more than a year ahead (latest: ${latest}); acknowledge for at most a year, then look again`,
        ]
      : [],
  );
  if (tooLate.length > 0) throw new ConfigError(file, tooLate);
  const d = { ...DEFAULTS, ...raw.defaults };
  const maxShrinkPercent = raw.inventory.maxShrinkPercent ?? DEFAULTS.maxShrinkPercent;
  const shrinkWindowMs = durationMs(raw.inventory.shrinkWindow ?? DEFAULTS.shrinkWindow);
  return {
    file,
    organizationId: raw.organizationId,
    inventory:
      raw.inventory.source === 'file'
        ? { source: 'file', path: resolve(dirname(file), raw.inventory.path!), maxShrinkPercent, shrinkWindowMs }
        : { source: 'api', maxShrinkPercent, shrinkWindowMs },
    findings: {
      trustedAccounts: [...new Set(raw.findings?.trustedAccounts ?? [])],
      trustedOrganizations: [...new Set(raw.findings?.trustedOrganizations ?? [])],
      acknowledge: raw.findings?.acknowledge ?? [],
    },
    identityRules: {
      ...(raw.inventory.identityAccounts ? { identityAccounts: [...new Set(raw.inventory.identityAccounts)] } : {}),
      oidcIssuers: [...new Set(raw.inventory.oidcIssuers ?? [])],
    },
    memberRoleName: raw.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME,
    iamRequestsPerSecond: d.iamRequestsPerSecond,
    roles: raw.roles.map((r): RoleSpec => ({
      name: roleKey(r.name, r.account),
      roleName: r.name,
      ...(r.account ? { account: r.account } : {}),
      trust: r.trust,
      mode: r.mode ?? d.mode,
      maxPolicyChars: r.maxPolicyChars ?? d.maxPolicyChars,
      maxRemovals: r.maxRemovals ?? d.maxRemovals,
      maxRevertsPerHour: r.maxRevertsPerHour ?? d.maxRevertsPerHour,
      ...(r.deployments ? { deployments: r.deployments } : {}),
      serviceAccounts:
        r.serviceAccounts === undefined || r.serviceAccounts === 'all'
          ? 'all'
          : [...new Set(r.serviceAccounts.map((c) => (c === 'webserver' ? 'apiserver' : c)))],
    })),
  };
}

/**
 * A YAML syntax error for a person: where (line, column), what, and the offending line itself with a caret
 * under the column (the parser's own context shows the line before it, and loses it in a one-line message).
 */
function yamlProblem(e: YAMLError, text: string): string {
  const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = e.linePos?.[0];
  if (!pos) return `YAML: ${what}`;
  const line = (text.split(/\r?\n/)[pos.line - 1] ?? '').replace(/\t/g, ' ');
  return `line ${pos.line}, column ${pos.col}: YAML: ${what}\n      ${line}\n      ${' '.repeat(Math.max(0, pos.col - 1))}^`;
}

function locate(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: PropertyKey[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as
      { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return ` (line ${lc.linePos(node.range[0]).line})`;
  }
  return '';
}

/** Reads and validates the config file. */
export function loadConfig(file: string, options: { now?: number } = {}): Config {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      file,
      [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`],
      { cause: err },
    );
  }
  return parseConfig(text, file, options);
}
