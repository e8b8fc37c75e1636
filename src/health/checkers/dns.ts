/**
 * DNS: one query over UDP or TCP (the user's choice), with an EDNS(0) record when asked,
 * up when the reply code is the expected one and, when `answer` is set, that answer is in
 * the answer section (compared as dig +short prints it: see hasAnswer).
 * Uses the codec in ../dns-packet.ts (why not Node's resolver: see there).
 */
import { randomInt } from 'node:crypto';
import type { Checker, CheckOutcome, CheckSignal } from '../types.js';
import { abortError } from '../types.js';
import { decodeReply, encodeQuery, hasAnswer, rcodeName, type DnsReply } from '../dns-packet.js';
import { closeConnection, connectTcp, type Route, routeOf, udpExchange } from './connect.js';

/** RFC 1035 section 4.2.2: over TCP each message is preceded by its two-byte length. */
async function queryTcp(query: Buffer, target: Route, signal: CheckSignal): Promise<Buffer> {
  const socket = await connectTcp(target, signal);
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (settle: () => void) => {
      signal.removeEventListener('abort', onAbort);
      closeConnection(socket);
      settle();
    };
    const onAbort = () => done(() => reject(abortError(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        done(() => resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
      }
    });
    socket.on('error', (err) => done(() => reject(err)));
    socket.on('end', () =>
      done(() => reject(new Error('connection closed before a complete DNS reply'))),
    );
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.write(Buffer.concat([length, query]));
  });
}

function judge(reply: DnsReply, wantedRcode: string, answer: string | undefined): CheckOutcome {
  const rcode = rcodeName(reply.rcode);
  if (rcode !== wantedRcode)
    return { ok: false, message: `rcode ${rcode}, expected ${wantedRcode}` };
  if (answer !== undefined && !hasAnswer(reply.answers, answer)) {
    const got = reply.answers.map((a) => a.data).join(', ') || 'no answers';
    return { ok: false, message: `answer ${answer} not in reply (${got})` };
  }
  return { ok: true, message: `rcode ${rcode}${answer !== undefined ? `, answer ${answer}` : ''}` };
}

export const dnsChecker: Checker<'dns'> = {
  type: 'dns',
  prepare(config, target) {
    const route = routeOf(config, target);
    const edns = config.edns
      ? { udpSize: config.edns_udp_size ?? 1232, dnssecOk: config.dnssec_ok ?? false }
      : undefined;
    return async (signal) => {
      const query = encodeQuery(randomInt(0, 0x10000), config.name, config.qtype, edns);
      const raw =
        config.transport === 'tcp'
          ? await queryTcp(query, route, signal)
          : await udpExchange(
              route,
              query,
              signal,
              (reply) => reply.length >= 2 && reply.readUInt16BE(0) === query.readUInt16BE(0),
            );
      const reply = decodeReply(raw);
      if (reply.id !== query.readUInt16BE(0))
        return { ok: false, message: 'reply id does not match the query' };
      if (reply.truncated && config.transport === 'udp' && config.answer !== undefined) {
        return { ok: false, message: 'reply truncated over UDP; use transport: tcp' };
      }
      return judge(reply, config.rcode, config.answer);
    };
  },
};
