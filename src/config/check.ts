/**
 * The `check` section: how lvsd decides that a real server deserves traffic.
 * A zod discriminated union on `type`; the health module maps each type to its checker
 * (src/health/checkers/<type>.ts). A check may sit on a service (every real inherits it)
 * or on one real (overrides the service's for that real). Defaults here are the ones users
 * see in the JSON schema and docs/config-reference.md.
 *
 * What can be known without running a check is refused here, with the field's path (and so
 * its file and line): a regular expression that does not compile, a dns answer that no
 * reply could hold, settings that would be ignored silently (a body check on HEAD),
 * combinations that contradict each other.
 */
import { z } from 'zod';
import { answerProblem } from './dns-answer.js';
import { Duration } from './duration.js';
import { excerpt, quoted } from './excerpt.js';
import { patternProblem } from './pattern.js';

const Port = z.number().int().min(1).max(65535);

/** The timeout of a check that sets none, unless its interval is shorter (see withTimeout). */
export const DEFAULT_TIMEOUT_MS = 2000;

/** When and how often: fields every check type shares, except the parts of a `type: all` check. */
const timing = {
  interval: Duration.default(5000).describe('Time between two checks of one real. Default 5s.'),
  timeout: Duration.optional().describe(
    'How long one check may take before it counts as failed. Default 2s, or the interval ' +
      'when that is shorter. At most the interval: a longer one is capped, with a warning.',
  ),
  rise: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(2)
    .describe('Consecutive successes that bring a down real up. Default 2.'),
  fall: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe('Consecutive failures that take an up real down. Default 3.'),
  initial: z
    .enum(['down', 'up'])
    .default('down')
    .describe(
      'State before the first result: down (default: no traffic to an unchecked real) or up.',
    ),
  on_failure: z
    .enum(['remove', 'inhibit'])
    .default('remove')
    .describe(
      'remove (default): take the real out, draining its connections; inhibit: keep it with weight 0.',
    ),
};

/** Where a check goes and where it comes from (keepalived: connect_ip, connect_port, bind_to, bind_port, bind_if). */
const targeting = {
  port: Port.optional().describe(
    "Port to check instead of the real's own (check a different port than traffic).",
  ),
  address: z.string().optional().describe("Address to check instead of the real's own."),
  source: z.string().optional().describe('Source address the check connects from.'),
  source_port: Port.optional().describe(
    'Source port the check connects from (tcp, http, https, smtp, udp, dns).',
  ),
  interface: z
    .string()
    .min(1)
    .max(15)
    .optional()
    .describe(
      'Interface of a link-local IPv6 address (fe80::/10) checked or used as source ' +
        "(keepalived's bind_if); icmp checks also send only through it.",
    ),
};

const common = { ...timing, ...targeting };

/** Settings of the regular expressions a check's patterns are (JavaScript syntax). */
const patternFlags = {
  ignore_case: z
    .boolean()
    .default(false)
    .describe("Patterns ignore case (the i flag; keepalived's regex_options caseless)."),
  multiline: z
    .boolean()
    .default(false)
    .describe('^ and $ match at every line of the text (the m flag; regex_options multiline).'),
};

/** "200", 200 or "200-299". */
const StatusRange = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, 'a status code (200) or a range (200-299)'),
]);

const Digest = z
  .string()
  .regex(/^(md5|sha1|sha256):[0-9a-fA-F]+$/, 'algorithm:hex, e.g. sha256:9f86d0...')
  .refine((text) => {
    const [algorithm, hex] = text.split(':') as [string, string];
    return hex.length === { md5: 32, sha1: 40, sha256: 64 }[algorithm];
  }, 'the hex part has the wrong length for its algorithm (md5 32, sha1 40, sha256 64 digits)');

/** What one URL must answer; on a check these are the defaults of its `urls`. */
const responseFields = {
  status: z
    .array(StatusRange)
    .min(1)
    .optional()
    .describe('Accepted status codes or ranges. Default 200-299.'),
  body: z
    .string()
    .optional()
    .describe('JavaScript regular expression the response body must match (keepalived regex).'),
  body_no_match: z
    .string()
    .optional()
    .describe(
      'JavaScript regular expression the body must not match (keepalived regex with regex_no_match).',
    ),
  digest: Digest.optional().describe(
    "Digest of the whole body (keepalived's HTTP_GET digest), as md5:HEX, sha1:HEX or sha256:HEX.",
  ),
};

const Url = z
  .strictObject({ path: z.string().startsWith('/'), ...responseFields })
  .describe("One URL of a check (keepalived's url block); unset fields come from the check.");

const httpFields = {
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET'),
  path: z.string().startsWith('/').optional().describe('Path to request. Default /.'),
  urls: z
    .array(Url)
    .min(1)
    .optional()
    .describe(
      'Several URLs, all of which must pass (instead of path); each may set its own status, body, digest.',
    ),
  http_version: z
    .union([z.enum(['1.0', '1.1']), z.literal(1), z.literal(1.1)])
    .transform((v): '1.0' | '1.1' => (v === 1 || v === '1.0' ? '1.0' : '1.1'))
    .default('1.1')
    .describe(
      "HTTP version of the request line: 1.1 (default) or 1.0 (keepalived's http_protocol).",
    ),
  host: z
    .string()
    .optional()
    .describe(
      'Host header; default the checked address, with :port unless it is 80 (http) or 443 (https).',
    ),
  headers: z.record(z.string(), z.string()).optional(),
  ...responseFields,
  ...patternFlags,
};

const tlsFields = {
  sni: z.string().optional().describe('TLS server name; default the Host header.'),
  verify: z.boolean().default(true).describe('Verify the server certificate. Default true.'),
  ca: z.string().optional().describe('CA bundle file (PEM) to verify against.'),
  cert: z.string().optional().describe('Client certificate file (PEM).'),
  key: z.string().optional().describe('Client key file (PEM).'),
};

const udpFields = {
  payload: z.string().default('').describe('Datagram to send (text).'),
  payload_hex: z
    .string()
    .regex(/^([0-9a-fA-F]{2})*$/)
    .optional()
    .describe('Datagram to send, as hex (instead of payload).'),
  expect: z
    .string()
    .optional()
    .describe(
      'JavaScript regular expression the reply must match; default any reply. ICMP port unreachable means down.',
    ),
  ...patternFlags,
};

const dnsFields = {
  name: z.string().min(1).describe('Name to query.'),
  qtype: z.enum(['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT']).default('A'),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  rcode: z.enum(['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED']).default('NOERROR'),
  answer: z
    .string()
    .optional()
    .describe('An answer that must be present, as dig +short prints it (192.0.2.1, "some text").'),
  edns: z
    .boolean()
    .default(false)
    .describe('Send an EDNS(0) OPT record (RFC 6891). Default false.'),
  edns_udp_size: z
    .number()
    .int()
    .min(512)
    .max(65535)
    .optional()
    .describe('UDP payload size announced with EDNS. Default 1232.'),
  dnssec_ok: z.boolean().optional().describe('Set the DO bit (with edns). Default false.'),
};

const smtpFields = {
  ehlo: z.string().default('lvsd').describe('Name sent with EHLO.'),
};

const execFields = {
  command: z
    .array(z.string().min(1))
    .min(1)
    .describe(
      'argv, run without a shell. $LVSD_CHECK_ADDRESS, $LVSD_CHECK_PORT, $LVSD_RIP, $LVSD_RPORT, ' +
        '$LVSD_VIP, $LVSD_VPORT and $LVSD_SERVICE in arguments are replaced; they are in the environment too.',
    ),
  env: z.record(z.string(), z.string()).optional(),
  dynamic_weight: z
    .union([z.boolean(), z.enum(['output', 'exit_status'])])
    .default(false)
    .describe(
      'true or output: the weight is the last line of output; ' +
        "exit_status: keepalived's misc_dynamic (0 up, 1 down, 2+N up with weight N).",
    ),
  warning: z
    .enum(['down', 'up'])
    .default('down')
    .describe("How exit status 1 (a Nagios plugin's WARNING) counts: down or up."),
  user: z
    .string()
    .min(1)
    .optional()
    .describe('Run as this user (name or uid); lvsd must run as root.'),
  group: z
    .string()
    .min(1)
    .optional()
    .describe("Run with this group (name or gid); default the user's."),
};

const fileFields = {
  path: z.string().startsWith('/', 'an absolute path').describe('The file another tool writes.'),
  missing: z
    .enum(['down', 'up'])
    .default('down')
    .describe('State while the file does not exist: down or up.'),
};

/** A file says what it means at once: one read decides, unless the user asks for more. */
const fileTiming = {
  ...common,
  rise: timing.rise
    .unwrap()
    .default(1)
    .describe('Consecutive successes that bring a down real up. Default 1.'),
  fall: timing.fall
    .unwrap()
    .default(1)
    .describe('Consecutive failures that take an up real down. Default 1.'),
};

/** Fields of each type besides the common ones, and the rules that tie them together. */
const TYPES = {
  tcp: { fields: {}, describe: 'TCP connect: up when the handshake completes.' },
  http: { fields: httpFields, describe: 'HTTP request.' },
  https: { fields: { ...httpFields, ...tlsFields }, describe: 'HTTPS request.' },
  udp: { fields: udpFields, describe: 'UDP request and reply.' },
  dns: { fields: dnsFields, describe: 'DNS query.' },
  smtp: { fields: smtpFields, describe: 'SMTP: a 220 banner, then 250 to EHLO.' },
  exec: { fields: execFields, describe: 'An external program: exit status 0 means up.' },
  icmp: {
    fields: {},
    describe: "ICMP echo (keepalived's PING_CHECK): up when the real answers a ping.",
  },
  file: {
    fields: fileFields,
    describe:
      "A file another tool writes (keepalived's FILE_CHECK): up, down, or a weight; read when it changes.",
  },
} as const;
type TypeName = keyof typeof TYPES;

type Ctx = z.core.$RefinementCtx;
type Fields = Record<string, unknown>;

function issue(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

function patterns(check: Fields, ctx: Ctx, at: (string | number)[] = []): void {
  for (const key of ['body', 'body_no_match', 'expect']) {
    const pattern = check[key];
    if (typeof pattern !== 'string') continue;
    const problem = patternProblem(pattern, check);
    if (problem) issue(ctx, [...at, key], problem);
  }
}

function httpRules(check: Fields, ctx: Ctx): void {
  const urls = (check.urls as Fields[] | undefined) ?? [];
  patterns(check, ctx);
  const flags = { ignore_case: check.ignore_case, multiline: check.multiline };
  for (const [i, url] of urls.entries()) patterns({ ...flags, ...url }, ctx, ['urls', i]);
  if (urls.length > 0 && check.path !== undefined)
    issue(ctx, ['path'], 'set either path or urls, not both: with urls, each URL names its path');
  if (check.method === 'HEAD') {
    const reads = (where: Fields, at: (string | number)[]) => {
      for (const key of ['body', 'body_no_match', 'digest'])
        if (where[key] !== undefined)
          issue(
            ctx,
            [...at, key],
            `a HEAD response has no body: ${key} cannot be checked (use method: GET)`,
          );
    };
    reads(check, []);
    for (const [i, url] of urls.entries()) reads(url, ['urls', i]);
  }
  if ((check.cert === undefined) !== (check.key === undefined))
    issue(
      ctx,
      [check.cert === undefined ? 'key' : 'cert'],
      'a client certificate needs both cert and key',
    );
}

function dnsRules(check: Fields, ctx: Ctx): void {
  const problem =
    typeof check.answer === 'string' ? answerProblem(String(check.qtype), check.answer) : undefined;
  if (problem) issue(ctx, ['answer'], problem);
  if (check.edns) return;
  for (const key of ['edns_udp_size', 'dnssec_ok'])
    if (check[key] !== undefined)
      issue(ctx, [key], `${key} is sent in the EDNS record: set edns: true`);
}

function execRules(check: Fields, ctx: Ctx): void {
  if (check.dynamic_weight === 'exit_status' && check.warning === 'up')
    issue(
      ctx,
      ['warning'],
      'with dynamic_weight: exit_status, exit 1 is down (misc_dynamic); warning: up contradicts it',
    );
  if (check.group !== undefined && check.user === undefined)
    issue(ctx, ['group'], 'group is set with user: set user too');
}

function icmpRules(check: Fields, ctx: Ctx): void {
  for (const key of ['port', 'source_port'])
    if (check[key] !== undefined)
      issue(ctx, [key], `an echo request has no ports: ${key} does not apply`);
}

function fileRules(check: Fields, ctx: Ctx): void {
  for (const key of ['address', 'port', 'source', 'source_port', 'interface'])
    if (check[key] !== undefined)
      issue(ctx, [key], `a file check reads a file: ${key} does not apply`);
}

const RULES: Partial<Record<TypeName, (check: Fields, ctx: Ctx) => void>> = {
  http: httpRules,
  https: httpRules,
  udp: (check, ctx) => patterns(check, ctx),
  dns: dnsRules,
  exec: execRules,
  icmp: icmpRules,
  file: fileRules,
};

/** One check type's schema: its literal, the given shared fields, its own, and its rules. */
function checkSchema<T extends TypeName, S extends z.core.$ZodLooseShape>(type: T, shared: S) {
  const { fields, describe } = TYPES[type];
  const rules = RULES[type];
  const schema = z.strictObject({
    type: z.literal(type),
    ...shared,
    ...(fields as (typeof TYPES)[T]['fields']),
  });
  return (
    rules ? schema.superRefine((value, ctx) => rules(value as Fields, ctx)) : schema
  ).describe(describe);
}

export const TcpCheck = checkSchema('tcp', common);
export const HttpCheck = checkSchema('http', common);
export const HttpsCheck = checkSchema('https', common);
export const UdpCheck = checkSchema('udp', common);
export const DnsCheck = checkSchema('dns', common);
export const SmtpCheck = checkSchema('smtp', common);
export const ExecCheck = checkSchema('exec', common);
export const IcmpCheck = checkSchema('icmp', common);
export const FileCheck = checkSchema('file', fileTiming);

/** A part of a `type: all` check: any other type, without the timing (the `all` check's). */
const PART_OPTIONS = [
  checkSchema('tcp', targeting),
  checkSchema('http', targeting),
  checkSchema('https', targeting),
  checkSchema('udp', targeting),
  checkSchema('dns', targeting),
  checkSchema('smtp', targeting),
  checkSchema('exec', targeting),
  checkSchema('icmp', targeting),
  checkSchema('file', targeting),
] as const;

const CheckPart = z.discriminatedUnion('type', PART_OPTIONS, {
  error: (issue): string | undefined => {
    const type = (issue.input as { type?: unknown } | undefined)?.type;
    if (issue.code !== 'invalid_union') return undefined;
    const known = PART_OPTIONS.map((o) => o.shape.type.value).join(', ');
    if (type === 'all') return 'a part of an all check cannot be an all check itself';
    return `a part of an all check needs a type: one of ${known}`;
  },
});
export type CheckPart = z.infer<typeof CheckPart>;

export const AllCheck = z
  .strictObject({
    type: z.literal('all'),
    ...common,
    checks: z
      .array(CheckPart.meta({ id: 'CheckPart' }))
      .min(1)
      .describe(
        'The checks, run together at each interval; the real is up when all pass. ' +
          "Their port, address and source default to this check's.",
      ),
  })
  .superRefine((check, ctx) => {
    const weighed = check.checks.flatMap((part, i) =>
      (part.type === 'exec' && part.dynamic_weight !== false) || part.type === 'file' ? [i] : [],
    );
    for (const i of weighed.slice(1))
      issue(
        ctx,
        ['checks', i],
        'only one part of an all check may report a weight (exec dynamic_weight, file)',
      );
  })
  .describe(
    'Several checks of one real, all of which must pass (keepalived: several checkers in a real_server).',
  );

const CHECK_OPTIONS = [
  TcpCheck,
  HttpCheck,
  HttpsCheck,
  UdpCheck,
  DnsCheck,
  SmtpCheck,
  ExecCheck,
  IcmpCheck,
  FileCheck,
  AllCheck,
] as const;

const CheckUnion = z.discriminatedUnion('type', CHECK_OPTIONS, {
  error: (issue): string | undefined => {
    const type = (issue.input as { type?: unknown } | undefined)?.type;
    if (issue.code !== 'invalid_union') return undefined;
    const known = CHECK_OPTIONS.map((o) => o.shape.type.value).join(', ');
    return type === undefined
      ? `a check needs a type: one of ${known}`
      : `unknown check type ${typeof type === 'string' ? quoted(type) : excerpt(String(JSON.stringify(type)))}: ` +
          `expected one of ${known}`;
  },
});
/**
 * A check that sets no timeout gets 2s, or its interval when that is shorter: checks of a
 * real start one interval apart, so one can take at most the interval, and `interval: 1s`
 * alone must be a valid check. A timeout the user wrote is kept as written here; the rule
 * that caps it at the interval, with a warning, is in resolve.ts, which knows whether it
 * was written.
 */
function withTimeout<T extends { interval: number; timeout?: number | undefined }>(
  check: T,
): T & { timeout: number } {
  return { ...check, timeout: check.timeout ?? Math.min(DEFAULT_TIMEOUT_MS, check.interval) };
}

export const CheckConfig = CheckUnion.transform(withTimeout);
export type CheckConfig = z.infer<typeof CheckConfig>;
export type CheckType = CheckConfig['type'];
export const CHECK_TYPES = CheckUnion.options.map((o) => o.shape.type.value) as CheckType[];

/** Whether the check connects to a port it does not name itself (so the real must have one). */
export function needsPort(check: CheckConfig | CheckPart, inheritedPort?: number): boolean {
  const port = check.port ?? inheritedPort;
  if (check.type === 'all') return check.checks.some((part) => needsPort(part, port));
  return !['exec', 'icmp', 'file'].includes(check.type) && port === undefined;
}
