/**
 * HTTP and HTTPS: one request per check, no keep-alive (a check must see a fresh
 * connection, as a new client would). Up when the status is in the accepted list and the
 * body matches the regular expression and/or the digest, when those are set.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CheckConfig } from '../../config/check.js';
import type { Checker, CheckTarget, PreparedCheck } from '../types.js';
import { abortError } from '../types.js';

type HttpConfig = Extract<CheckConfig, { type: 'http' | 'https' }>;

/** Bodies are read up to this size for regex and digest checks; larger bodies fail the check. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** "200", 200, "200-299" → a predicate on a status code. */
export function statusMatcher(
  accepted: ReadonlyArray<string | number>,
): (status: number) => boolean {
  const ranges = accepted.map((entry) => {
    const [low, high] = String(entry).split('-').map(Number) as [number, number | undefined];
    return [low, high ?? low] as const;
  });
  return (status) => ranges.some(([low, high]) => status >= low && status <= high);
}

function hostHeader(config: HttpConfig, target: CheckTarget): string {
  if (config.host) return config.host;
  const address = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
  const defaultPort = config.type === 'https' ? 443 : 80;
  return target.port === defaultPort ? address : `${address}:${target.port}`;
}

function prepareHttp(config: HttpConfig, target: CheckTarget): PreparedCheck {
  const accepts = statusMatcher(config.status);
  const bodyPattern = config.body === undefined ? undefined : new RegExp(config.body);
  const digest = config.digest ? (config.digest.split(':') as [string, string]) : undefined;
  const needsBody = (bodyPattern !== undefined || digest !== undefined) && config.method !== 'HEAD';
  const host = hostHeader(config, target);
  const options: https.RequestOptions = {
    host: target.address,
    port: target.port,
    method: config.method,
    path: config.path,
    headers: { 'user-agent': 'lvsd-health', ...config.headers, host },
    agent: false,
    ...(target.source ? { localAddress: target.source } : {}),
  };
  let transport: typeof http | typeof https = http;
  if (config.type === 'https') {
    transport = https;
    const servername = config.sni ?? config.host?.replace(/:\d+$/, '');
    // SNI carries names only; an address as server name is not sent (RFC 6066 section 3).
    if (servername && !net.isIP(servername)) options.servername = servername;
    options.rejectUnauthorized = config.verify;
    if (config.ca) options.ca = readFileSync(config.ca);
    if (config.cert) options.cert = readFileSync(config.cert);
    if (config.key) options.key = readFileSync(config.key);
  }
  return (signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError(signal));
      // The deadline ends the request (and its response) as an AbortSignal option would.
      const onAbort = () => request.destroy();
      const request = transport.request(options, (response) => {
        const status = response.statusCode ?? 0;
        if (!accepts(status)) {
          response.destroy();
          return resolve({
            ok: false,
            message: `status ${status}, expected ${config.status.join(', ')}`,
          });
        }
        if (!needsBody) {
          response.resume();
          return resolve({ ok: true, message: `status ${status}` });
        }
        const hash = digest ? createHash(digest[0]) : undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            response.destroy();
            return resolve({ ok: false, message: `body larger than ${MAX_BODY_BYTES} bytes` });
          }
          hash?.update(chunk);
          if (bodyPattern) chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          if (digest && hash) {
            const got = hash.digest('hex');
            if (got !== digest[1].toLowerCase())
              return resolve({
                ok: false,
                message: `status ${status}, body ${digest[0]} ${got}, expected ${digest[1]}`,
              });
          }
          if (bodyPattern && !bodyPattern.test(Buffer.concat(chunks).toString('utf8'))) {
            return resolve({
              ok: false,
              message: `status ${status}, body does not match /${config.body}/`,
            });
          }
          resolve({ ok: true, message: `status ${status}, body matches` });
        });
      });
      signal.addEventListener('abort', onAbort, { once: true });
      request.on('close', () => signal.removeEventListener('abort', onAbort));
      request.on('error', (err) => reject(signal.aborted ? abortError(signal) : err));
      request.end();
    });
}

export const httpChecker: Checker<'http'> = { type: 'http', prepare: prepareHttp };
export const httpsChecker: Checker<'https'> = { type: 'https', prepare: prepareHttp };
