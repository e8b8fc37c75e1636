/**
 * The `check` section: how lvsd decides that a real server deserves traffic.
 * A zod discriminated union on `type`; the health module maps each type to its checker
 * (src/health/checkers/<type>.ts). A check may sit on a service (every real inherits it)
 * or on one real (overrides the service's for that real). Defaults here are the ones users
 * see in the JSON schema and docs/config-reference.md.
 */
import { z } from 'zod';
import { Duration } from './duration.js';
import { excerpt, quoted } from './excerpt.js';

const Port = z.number().int().min(1).max(65535);

/** The timeout of a check that sets none, unless its interval is shorter (see withTimeout). */
export const DEFAULT_TIMEOUT_MS = 2000;

/** Fields every check type shares. */
const common = {
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
  port: Port.optional().describe(
    "Port to check instead of the real's own (check a different port than traffic).",
  ),
  address: z.string().optional().describe("Address to check instead of the real's own."),
  source: z.string().optional().describe('Source address the check connects from.'),
  on_failure: z
    .enum(['remove', 'inhibit'])
    .default('remove')
    .describe(
      'remove (default): take the real out, draining its connections; inhibit: keep it with weight 0.',
    ),
};

/** "200", 200 or "200-299". */
const StatusRange = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, 'a status code (200) or a range (200-299)'),
]);

const httpFields = {
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET'),
  path: z.string().startsWith('/').default('/'),
  host: z
    .string()
    .optional()
    .describe(
      'Host header; default the checked address, with :port unless it is 80 (http) or 443 (https).',
    ),
  headers: z.record(z.string(), z.string()).optional(),
  status: z
    .array(StatusRange)
    .min(1)
    .default(['200-299'])
    .describe('Accepted status codes or ranges. Default 200-299.'),
  body: z.string().optional().describe('Regular expression the response body must match.'),
  digest: z
    .string()
    .regex(/^(md5|sha1|sha256):[0-9a-fA-F]+$/, 'algorithm:hex, e.g. sha256:9f86d0...')
    .optional()
    .describe(
      "Digest of the whole body (keepalived's HTTP_GET digest), as md5:HEX, sha1:HEX or sha256:HEX.",
    ),
};

export const TcpCheck = z
  .strictObject({ type: z.literal('tcp'), ...common })
  .describe('TCP connect: up when the handshake completes.');

export const HttpCheck = z
  .strictObject({ type: z.literal('http'), ...common, ...httpFields })
  .describe('HTTP request.');

export const HttpsCheck = z
  .strictObject({
    type: z.literal('https'),
    ...common,
    ...httpFields,
    sni: z.string().optional().describe('TLS server name; default the Host header.'),
    verify: z.boolean().default(true).describe('Verify the server certificate. Default true.'),
    ca: z.string().optional().describe('CA bundle file (PEM) to verify against.'),
    cert: z.string().optional().describe('Client certificate file (PEM).'),
    key: z.string().optional().describe('Client key file (PEM).'),
  })
  .describe('HTTPS request.');

export const UdpCheck = z
  .strictObject({
    type: z.literal('udp'),
    ...common,
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
        'Regular expression the reply must match; default any reply. ICMP port unreachable means down.',
      ),
  })
  .describe('UDP request and reply.');

export const DnsCheck = z
  .strictObject({
    type: z.literal('dns'),
    ...common,
    name: z.string().min(1).describe('Name to query.'),
    qtype: z.enum(['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT']).default('A'),
    transport: z.enum(['udp', 'tcp']).default('udp'),
    rcode: z.enum(['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED']).default('NOERROR'),
    answer: z.string().optional().describe('An answer that must be present (e.g. 192.0.2.1).'),
  })
  .describe('DNS query.');

export const SmtpCheck = z
  .strictObject({
    type: z.literal('smtp'),
    ...common,
    ehlo: z.string().default('lvsd').describe('Name sent with EHLO.'),
  })
  .describe('SMTP: a 220 banner, then 250 to EHLO.');

export const ExecCheck = z
  .strictObject({
    type: z.literal('exec'),
    ...common,
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe(
        'argv, run without a shell. Environment: LVSD_VIP, LVSD_VPORT, LVSD_RIP, LVSD_RPORT.',
      ),
    env: z.record(z.string(), z.string()).optional(),
    dynamic_weight: z
      .boolean()
      .default(false)
      .describe("Read a weight from the command's last output line (keepalived's MISC_DYNAMIC)."),
  })
  .describe('An external program: exit status 0 means up.');

/**
 * No `icmp` type: an echo request needs a raw or an ICMP datagram socket, which Node
 * cannot open without native code (dgram speaks UDP only; the netlink binding opens
 * AF_NETLINK only), and shelling out to ping is what the checkers must not do.
 * A config asking for it is told so, with the alternatives.
 */
export const ICMP_UNSUPPORTED =
  'icmp checks are not supported: Node has no ICMP sockets without native code. ' +
  'Use type: tcp (or udp) against a port the real serves, ' +
  'or type: exec with command: [ping, -c1, -W1, <address>]';

const CHECK_OPTIONS = [
  TcpCheck,
  HttpCheck,
  HttpsCheck,
  UdpCheck,
  DnsCheck,
  SmtpCheck,
  ExecCheck,
] as const;

const CheckUnion = z.discriminatedUnion('type', CHECK_OPTIONS, {
  error: (issue): string | undefined => {
    const type = (issue.input as { type?: unknown } | undefined)?.type;
    if (type === 'icmp') return ICMP_UNSUPPORTED;
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
/** A check after defaults: durations in milliseconds. */
export type CheckConfig = z.infer<typeof CheckConfig>;
export type CheckType = CheckConfig['type'];
export const CHECK_TYPES = CheckUnion.options.map((o) => o.shape.type.value) as CheckType[];
