/** Small real servers on loopback for checker tests; each closes with the test. */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckTarget } from '../../src/health/types.js';

/** A check's target: the real at `address`, behind the VIP 10.0.0.1:80. */
export function targetAt(
  address: string,
  port: number,
  extra: Partial<CheckTarget> = {},
): CheckTarget {
  return {
    service: 'web',
    realId: `${address}:${port}`,
    address,
    port,
    realAddress: address,
    realPort: port,
    vip: '10.0.0.1',
    vport: 80,
    ...extra,
  };
}

/** The target of a real on loopback. */
export function target(port: number, extra: Partial<CheckTarget> = {}): CheckTarget {
  return targetAt('127.0.0.1', port, extra);
}

export function listen<T extends net.Server>(
  server: T,
  host = '127.0.0.1',
): Promise<{ server: T; port: number; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        server,
        port,
        close: () =>
          new Promise<void>((done) => {
            (server as unknown as http.Server).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const { port, close } = await listen(net.createServer());
  await close();
  return port;
}

export function udpServer(
  reply: (msg: Buffer) => Buffer | null,
): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      const out = reply(msg);
      if (out) socket.send(out, rinfo.port, rinfo.address);
    });
    socket.bind(0, '127.0.0.1', () =>
      resolve({
        port: socket.address().port,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      }),
    );
  });
}

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for 127.0.0.1 and "web.test", and a client certificate, made with openssl. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'lvsd-pki-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=lvsd test CA',
  );
  for (const [name, cn, ext] of [
    ['server', 'web.test', 'subjectAltName=DNS:web.test,IP:127.0.0.1'],
    ['client', 'lvsd', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    const extFile = file(`${name}.ext`);
    writeFileSync(extFile, `${ext}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.pem`),
      '-days',
      '2',
      '-extfile',
      extFile,
    );
  }
  return {
    dir,
    caCert: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  };
}

export function httpsServer(
  pki: Pki,
  handler: http.RequestListener,
  requireClientCert = false,
): https.Server {
  return https.createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ...(requireClientCert
        ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(pki.caCert) }
        : {}),
    },
    handler,
  );
}
