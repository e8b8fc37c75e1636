/**
 * The backends of bench/health-10k.ts, in their own process so their CPU is not counted as
 * lvsd's: N TCP listeners on 127.0.0.1 that accept and drop connections, or (second
 * argument `http`) answer a request with a small 200 response, framed by its length, from
 * a plain TCP server (Node's http module would cost more than the checks it answers). The
 * parent sends { close: i } / { open: i } to stop and restart listener i on the same port.
 *
 * A listener never closes first: the checker resets the connection, so no side keeps
 * TIME_WAIT. A server that closed first would leave thousands of its own TIME_WAIT tuples
 * on the loopback, and new SYNs from a reused ephemeral port would hit them and wait a
 * second for a retransmit: a loopback artefact that says nothing about lvsd.
 */
import net from 'node:net';

const count = Number(process.argv[2] ?? 100);
const http = process.argv[3] === 'http';
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n',
);
const servers: Array<net.Server | undefined> = [];
const ports: number[] = [];

function open(i: number, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.on('end', () => socket.destroy());
      socket.setTimeout(5000, () => socket.destroy());
      if (http) socket.once('data', () => socket.write(RESPONSE));
    });
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
      servers[i] = server;
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

for (let i = 0; i < count; i++) ports.push(await open(i));
process.send?.({ ports });
process.on('message', (message: { close?: number; open?: number }) => {
  if (message.close !== undefined) {
    const server = servers[message.close];
    servers[message.close] = undefined;
    server?.close(() => process.send?.({ closed: message.close }));
  }
  if (message.open !== undefined)
    void open(message.open, ports[message.open]).then(() =>
      process.send?.({ opened: message.open }),
    );
});
process.on('disconnect', () => process.exit(0));
