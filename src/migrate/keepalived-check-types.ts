/**
 * Each keepalived checker type as an lvsd check: TCP_CHECK as tcp, HTTP_GET / SSL_GET as
 * http / https (one url: path, status_code, digest, virtualhost, regex on the check;
 * several: its urls), SMTP_CHECK as smtp, DNS_CHECK as dns, UDP_CHECK with require_reply
 * as udp, PING_CHECK as icmp (MISC_CHECK is keepalived-misc.ts's).
 * What a checker cannot carry over is a warning at its line.
 */
import {
  Builder,
  type CheckContext,
  type Common,
  readBlock,
  timing,
} from './keepalived-check-common.js';
import { patternProblem } from '../config/pattern.js';
import type { Statement } from './keepalived-lexer.js';
import { unsigned, ValueError, word } from './keepalived-values.js';
import type { CheckOut, FlowMap, Scalar } from './types.js';

export type CheckerMapper = (stmt: Statement, ctx: CheckContext) => CheckOut | undefined;

export function tcpCheck(stmt: Statement, ctx: CheckContext): CheckOut {
  const common: Common = {};
  readBlock(stmt, ctx, () => false, common);
  const b = new Builder();
  b.set('type', 'tcp');
  timing(b, 'TCP_CHECK', common, ctx);
  return b.out();
}

interface Url {
  stmt: Statement;
  path?: string;
  digest?: string;
  status: Scalar[];
  virtualhost?: string;
  regex?: string;
  noMatch: boolean;
  /** regex_options lvsd has: caseless (ignore_case), multiline. */
  flags: string[];
}

/** PCRE2 options of regex_options that lvsd's patterns have, by lvsd's name. */
const REGEX_FLAGS: Record<string, string> = { caseless: 'ignore_case', multiline: 'multiline' };

function regexOptions(inner: Statement, url: Url, ctx: CheckContext): void {
  for (const option of inner.words.slice(1)) {
    if (REGEX_FLAGS[option]) url.flags.push(REGEX_FLAGS[option] as string);
    else
      ctx.warn(
        inner.pos,
        `regex_options ${option} is not imported: lvsd's patterns are JavaScript regular ` +
          'expressions with ignore_case (caseless) and multiline only',
      );
  }
}

/** PCRE's inline flags that lvsd's patterns have as settings: (?i) ignore_case, (?m) multiline. */
const INLINE: Record<string, string> = { i: 'ignore_case', m: 'multiline' };

/**
 * The url's regex as lvsd runs it, a JavaScript regular expression: leading (?i) / (?m)
 * become its flags; one JavaScript cannot read is a warning and left out, so the import
 * still gives a config lvsd takes.
 */
function javascriptPattern(url: Url, ctx: CheckContext): void {
  const inline = /^\(\?([a-zA-Z]+)\)/.exec(url.regex as string);
  if (inline && [...(inline[1] as string)].every((f) => INLINE[f])) {
    url.flags.push(...[...(inline[1] as string)].map((f) => INLINE[f] as string));
    url.regex = (url.regex as string).slice(inline[0].length);
  }
  const flags = {
    ignore_case: url.flags.includes('ignore_case'),
    multiline: url.flags.includes('multiline'),
  };
  const problem = patternProblem(url.regex as string, flags);
  if (!problem) return;
  ctx.warn(
    url.stmt.pos,
    `regex ${url.regex} of url ${url.path ?? ''} is not imported: ${problem}; the url is checked without it`,
  );
  url.regex = undefined;
  url.noMatch = false;
  url.flags = [];
}

function readUrl(stmt: Statement, ctx: CheckContext): Url {
  const url: Url = { stmt, status: [], noMatch: false, flags: [] };
  for (const inner of stmt.block ?? []) {
    const [keyword = ''] = inner.words;
    const arg = () => word(inner.words, 1, 'a value');
    if (keyword === 'path') {
      if (arg().startsWith('/')) url.path = arg();
      else
        ctx.warn(
          inner.pos,
          `path '${arg()}' is not imported: keepalived requests it as written, and a path starts ` +
            "with '/' (write the path the server answers)",
        );
    } else if (keyword === 'digest') {
      if (!/^[0-9a-fA-F]{32}$/.test(arg()))
        throw new ValueError(`digest '${arg()}' must be 32 hex digits (MD5)`);
      url.digest = `md5:${arg().toLowerCase()}`;
    } else if (keyword === 'status_code') url.status.push(...inner.words.slice(1).map(statusCode));
    else if (keyword === 'virtualhost') url.virtualhost = arg();
    else if (keyword === 'regex') url.regex = arg();
    else if (keyword === 'regex_no_match') url.noMatch = true;
    else if (keyword === 'regex_options') regexOptions(inner, url, ctx);
    else if (keyword.startsWith('regex_'))
      ctx.warn(
        inner.pos,
        `${inner.words.join(' ')} is not imported: lvsd matches its pattern against the whole body`,
      );
    else
      ctx.warn(
        inner.pos,
        `unknown url keyword ${keyword} (keepalived reports it too); not imported`,
      );
  }
  if (url.regex !== undefined) javascriptPattern(url, ctx);
  if (url.regex === undefined && (url.noMatch || url.flags.length > 0)) {
    ctx.warn(stmt.pos, 'regex_no_match or regex_options without regex: keepalived ignores them');
    url.noMatch = false;
    url.flags = [];
  }
  return url;
}

function statusCode(text: string): Scalar {
  const match = /^(\d{3})(?:-(\d{3}))?$/.exec(text);
  const [low, high] = [Number(match?.[1]), Number(match?.[2] ?? match?.[1])];
  if (!match || low < 100 || high > 599 || low > high)
    throw new ValueError(`invalid HTTP_GET status code '${text}'`);
  return match[2] === undefined ? low : text;
}

interface HttpBlock {
  urls: Url[];
  virtualhost?: string;
  protocol?: string;
  sni: boolean;
}

function readHttp(stmt: Statement, ctx: CheckContext, common: Common): HttpBlock {
  const http: HttpBlock = { urls: [], sni: false };
  readBlock(
    stmt,
    ctx,
    (inner) => {
      const [keyword = ''] = inner.words;
      if (keyword === 'url') http.urls.push(readUrl(inner, ctx));
      else if (keyword === 'virtualhost') http.virtualhost = word(inner.words, 1, 'a host');
      else if (keyword === 'http_protocol') http.protocol = word(inner.words, 1, 'a version');
      else if (keyword === 'enable_sni') http.sni = true;
      else if (keyword === 'fast_recovery')
        ctx.note(
          'fast_recovery: lvsd requests all urls of a check at each interval, so there is no delay to skip',
        );
      else return false;
      return true;
    },
    common,
  );
  return http;
}

function httpsSettings(
  b: Builder,
  http: HttpBlock,
  host: string | undefined,
  ctx: CheckContext,
): void {
  b.set('verify', false);
  b.notes.push("SSL_GET does not verify the server's certificate: verify: false");
  if (http.sni && host) b.set('sni', host.replace(/:\d+$/, ''));
  const ssl = ctx.ssl;
  if (ssl?.certificate) b.set('cert', ssl.certificate);
  if (ssl?.key) b.set('key', ssl.key);
  if (ssl?.ca)
    ctx.warn(
      ssl.pos,
      `SSL ca ${ssl.ca} is not imported: keepalived does not verify certificates ` +
        `with it; set verify: true and ca to do so`,
    );
  if (ssl?.password)
    ctx.warn(ssl.pos, 'SSL password is not imported: lvsd reads unencrypted key files');
}

/** One url's response fields, as lvsd's check (one url) or one of its urls (several) has them. */
function responseFields(url: Url): Array<[string, Scalar | Scalar[]]> {
  const fields: Array<[string, Scalar | Scalar[]]> = [];
  if (url.status.length > 0) fields.push(['status', url.status]);
  if (url.regex !== undefined) fields.push([url.noMatch ? 'body_no_match' : 'body', url.regex]);
  if (url.digest !== undefined) fields.push(['digest', url.digest]);
  return fields;
}

/** The Host header: lvsd's check has one, keepalived's urls may each name their own. */
function hostOf(urls: Url[], http: HttpBlock, ctx: CheckContext): string | undefined {
  const outer = http.virtualhost ?? ctx.rs.virtualhost ?? ctx.vs.virtualhost;
  const [first] = urls;
  const host = first?.virtualhost ?? outer;
  for (const url of urls.slice(1))
    if ((url.virtualhost ?? outer) !== host)
      ctx.warn(
        url.stmt.pos,
        `virtualhost ${url.virtualhost ?? outer ?? '(none)'} of url ${url.path} is not imported: ` +
          `lvsd sends one Host header for all urls of a check (${host ?? 'the address'})`,
      );
  return host;
}

/** regex_options as the check's ignore_case and multiline (lvsd sets them for all its patterns). */
function patternFlags(b: Builder, urls: Url[], ctx: CheckContext): void {
  const withRegex = urls.filter((u) => u.regex !== undefined);
  const [first] = withRegex;
  if (!first) return;
  const key = (u: Url) => [...new Set(u.flags)].sort().join(',');
  for (const url of withRegex.slice(1))
    if (key(url) !== key(first))
      ctx.warn(
        url.stmt.pos,
        `regex_options of url ${url.path} differ from url ${first.path}'s: lvsd sets ignore_case ` +
          `and multiline for all patterns of a check (${key(first) || 'none'})`,
      );
  for (const flag of [...new Set(first.flags)].sort()) b.set(flag, true);
  b.notes.push('regex is matched as a JavaScript regular expression (keepalived: PCRE2)');
}

/** keepalived sends HTTP/1.0 unless http_protocol says 1.1 (1.0C adds Connection: close). */
function httpVersion(b: Builder, protocol: string | undefined): void {
  if (protocol === '1.1') return;
  if (protocol !== undefined && protocol !== '1.0' && protocol !== '1.0C')
    throw new ValueError(`invalid http_protocol version ${protocol}`);
  b.set('http_version', '1.0');
  if (protocol === undefined)
    b.notes.push('no http_protocol: keepalived sends HTTP/1.0 requests (http_version: "1.0")');
}

export function httpCheck(stmt: Statement, ctx: CheckContext): CheckOut | undefined {
  const type = stmt.words[0] as string;
  const common: Common = {};
  const http = readHttp(stmt, ctx, common);
  const urls = http.urls.filter((u) => u.path !== undefined);
  const [url] = urls;
  if (!url) {
    ctx.warn(
      stmt.pos,
      `${type} has no url with a path: keepalived drops this checker, and so does the import`,
    );
    return undefined;
  }
  const b = new Builder();
  b.set('type', type === 'SSL_GET' ? 'https' : 'http');
  timing(b, type, common, ctx);
  httpVersion(b, http.protocol);
  if (urls.length === 1) b.set('path', url.path);
  const host = hostOf(urls, http, ctx);
  b.set('host', host);
  if (urls.length === 1) for (const [key, value] of responseFields(url)) b.set(key, value);
  else
    b.set(
      'urls',
      urls.map((u): FlowMap => ({ flow: [['path', u.path as string], ...responseFields(u)] })),
    );
  patternFlags(b, urls, ctx);
  if (type === 'SSL_GET') httpsSettings(b, http, host, ctx);
  return b.out();
}

export function smtpCheck(stmt: Statement, ctx: CheckContext): CheckOut {
  const common: Common = {};
  let helo: string | undefined;
  readBlock(
    stmt,
    ctx,
    (inner) => {
      if (inner.words[0] === 'helo_name') helo = word(inner.words, 1, 'a name');
      else if (inner.words[0] === 'host')
        ctx.warn(
          inner.pos,
          'SMTP_CHECK host blocks are not imported: lvsd checks the real server (or connect_ip / connect_port)',
        );
      else return false;
      return true;
    },
    common,
  );
  const b = new Builder();
  b.set('type', 'smtp');
  timing(b, 'SMTP_CHECK', common, ctx);
  b.set('ehlo', helo ?? ctx.vs.virtualhost);
  b.notes.push('keepalived greets with HELO, lvsd with EHLO (both need a 250 reply)');
  return b.out();
}

const DNS_TYPES = ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA'];

export function dnsCheck(stmt: Statement, ctx: CheckContext): CheckOut {
  const common: Common = {};
  let qtype = 'SOA';
  let name = '.';
  readBlock(
    stmt,
    ctx,
    (inner) => {
      const [keyword] = inner.words;
      if (keyword === 'type') {
        qtype = word(inner.words, 1, 'a type').toUpperCase();
        if (!DNS_TYPES.includes(qtype)) throw new ValueError(`unknown DNS_CHECK type ${qtype}`);
      } else if (keyword === 'name') name = word(inner.words, 1, 'a name') || '.';
      else return false;
      return true;
    },
    common,
  );
  const b = new Builder();
  b.set('type', 'dns');
  timing(b, 'DNS_CHECK', common, ctx);
  b.set('name', name);
  b.set('qtype', qtype);
  return b.out();
}

/** keepalived's read_hex_str(): blank-separated groups, two digits a byte, a lone digit 0N. */
export function hexBytes(words: readonly string[], wildcards: boolean): string {
  const out: string[] = [];
  for (const group of words) {
    const ok = wildcards ? /^[0-9a-fA-FxX]+$/ : /^[0-9a-fA-F]+$/;
    if (!ok.test(group)) throw new ValueError(`invalid hex string '${group}'`);
    for (let i = 0; i < group.length; i += 2)
      out.push(group.length - i === 1 ? `0${group[i]}` : group.slice(i, i + 2));
  }
  if (out.length === 0) throw new ValueError('empty hex string');
  return out.join('').toLowerCase();
}

/** A reply pattern for lvsd (which reads replies as latin1) from require_reply's hex with x nibbles. */
function replyPattern(hex: string): string {
  let out = '^';
  for (let i = 0; i < hex.length; i += 2) {
    const [high, low] = [hex[i] as string, hex[i + 1] as string];
    if (high !== 'x' && low !== 'x') out += `\\x${high}${low}`;
    else if (high === 'x' && low === 'x') out += '[\\s\\S]';
    else {
      const bytes = Array.from({ length: 16 }, (_, n) =>
        high === 'x' ? `${n.toString(16)}${low}` : `${high}${n.toString(16)}`,
      );
      out += `[${bytes.map((x) => `\\x${x}`).join('')}]`;
    }
  }
  return out;
}

interface UdpBlock {
  payload?: string;
  reply?: string | true;
  min?: number;
  max?: number;
}

function readUdp(stmt: Statement, ctx: CheckContext, common: Common): UdpBlock {
  const udp: UdpBlock = {};
  readBlock(
    stmt,
    ctx,
    (inner) => {
      const [keyword, ...rest] = inner.words;
      if (keyword === 'payload') udp.payload = hexBytes(rest, false);
      else if (keyword === 'require_reply')
        udp.reply = rest.length > 0 ? hexBytes(rest, true) : true;
      else if (keyword === 'min_reply_length')
        udp.min = unsigned(word(inner.words, 1, 'a length'), 0, 65535, keyword);
      else if (keyword === 'max_reply_length')
        udp.max = unsigned(word(inner.words, 1, 'a length'), 0, 65535, keyword);
      else return false;
      return true;
    },
    common,
  );
  return udp;
}

export function udpCheck(stmt: Statement, ctx: CheckContext): CheckOut | undefined {
  const common: Common = {};
  const udp = readUdp(stmt, ctx, common);
  if (udp.reply === undefined) {
    ctx.warn(
      stmt.pos,
      "UDP_CHECK without require_reply counts silence as up, and lvsd's udp check " +
        'needs a reply: not imported (the real server is unchecked); add require_reply, or a tcp or exec check',
    );
    return undefined;
  }
  const b = new Builder();
  b.set('type', 'udp');
  timing(b, 'UDP_CHECK', common, ctx);
  if (udp.payload) b.set('payload_hex', udp.payload);
  else
    b.notes.push('keepalived sends a random payload without payload; lvsd sends an empty datagram');
  const length =
    udp.min !== undefined || udp.max !== undefined
      ? `(?=[\\s\\S]{${udp.min ?? 0},${udp.max ?? 255}}$)`
      : '';
  if (typeof udp.reply === 'string' || length) {
    b.set('expect', (typeof udp.reply === 'string' ? replyPattern(udp.reply) : '^') + length);
    if (typeof udp.reply === 'string')
      b.notes.push(
        'require_reply as a pattern: lvsd needs the whole of it, keepalived compares as much as arrived',
      );
  }
  return b.out();
}

/** PING_CHECK: one echo request every delay_loop, connect_timeout to answer (lvsd's icmp check). */
export function pingCheck(stmt: Statement, ctx: CheckContext): CheckOut {
  const common: Common = {};
  readBlock(stmt, ctx, () => false, common);
  for (const [key, name] of [
    ['connectPort', 'connect_port'],
    ['bindPort', 'bind_port'],
  ] as const) {
    if (common[key] === undefined) continue;
    ctx.warn(
      stmt.pos,
      `${name} ${common[key]} of PING_CHECK is not imported: an echo request has no port`,
    );
    delete common[key];
  }
  const b = new Builder();
  b.set('type', 'icmp');
  timing(b, 'PING_CHECK', common, ctx);
  return b.out();
}
