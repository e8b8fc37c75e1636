/**
 * The user-space half of the kernel client, natively on the host (no kernel needed):
 * - write: encoding and framing the 11,000 messages of a 1000 x 10 table (what `lvsd apply`
 *   sends on an empty table) as the kernel client does (encodeOp + frameMessage);
 * - read: decoding a dump of 50,000 dests, as the kernel sends it (ip_vs_genl_fill_dest:
 *   settings, connection counts, STATS and STATS64 with padding), packed into 16 KiB
 *   datagrams and taken apart as the kernel client does (split, genl header, nested DEST).
 *
 * In the lab the same work runs under TCG emulation; the kernel side is measured there
 * (lab-kernel-bench.sh). Run: npm run bench (or node dist-bench/bench/ipvs-codec.js).
 */
import { AttrStream } from 'netlink';
import { decodeDest, findAttribute, frameMessage, genlPayload, parseGenl, putDest, splitMessages } from '../src/ipvs/codec.js';
import { CmdAttr, DestAttr, IpvsCmd, NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST, StatsAttr } from '../src/ipvs/constants.js';
import { encodeOp } from '../src/ipvs/kernel-client.js';
import type { IpvsOp } from '../src/ipvs/client.js';
import type { Dest } from '../src/ipvs/model.js';
import { desiredTable } from './reconcile-generate.js';
import { machineLine, measure, printRow } from './ipvs-report.js';

const FAMILY = 0x1d;
const DATAGRAM_BYTES = 16 * 1024;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** The stats attributes as ip_vs_genl_fill_stats / _stats64 write them. */
function stats(out: AttrStream, which: number, wide: boolean): void {
  out.push(which, (s: AttrStream) => {
    const counter = (type: number, n: number) => {
      if (wide || type === StatsAttr.INBYTES || type === StatsAttr.OUTBYTES) {
        s.push(StatsAttr.PAD, Buffer.alloc(0));
        s.push(type, u64(n));
      } else s.push(type, u32(n));
    };
    [StatsAttr.CONNS, StatsAttr.INPKTS, StatsAttr.OUTPKTS, StatsAttr.INBYTES, StatsAttr.OUTBYTES, StatsAttr.CPS, StatsAttr.INPPS, StatsAttr.OUTPPS, StatsAttr.INBPS, StatsAttr.OUTBPS].forEach(
      (type, i) => counter(type, 1000 + i),
    );
  });
}

/** One GET_DEST dump reply, shaped like the kernel's (withStats false: the same without STATS / STATS64). */
function destReply(dest: Dest, seq: number, withStats = true): Buffer {
  const payload = genlPayload(IpvsCmd.NEW_DEST, (out) => {
    const inner = new AttrStream();
    putDest(inner, dest);
    // putDest wrote one CmdAttr.DEST; the kernel adds counters and stats inside it.
    const attrs = findAttribute(Buffer.concat(inner.bufs), CmdAttr.DEST) as Buffer;
    out.push(CmdAttr.DEST, (d: AttrStream) => {
      d.emit(attrs);
      d.push(DestAttr.ACTIVE_CONNS, u32(3));
      d.push(DestAttr.INACT_CONNS, u32(5));
      d.push(DestAttr.PERSIST_CONNS, u32(0));
      if (withStats) {
        stats(d, DestAttr.STATS, false);
        stats(d, DestAttr.STATS64, true);
      }
    });
  });
  return frameMessage(FAMILY, NLM_F_MULTI, seq, 4242, payload);
}

function dumpDatagrams(dests: Dest[], withStats = true): Buffer[] {
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let bytes = 0;
  dests.forEach((dest, i) => {
    const msg = destReply(dest, i, withStats);
    if (bytes + msg.length > DATAGRAM_BYTES) {
      datagrams.push(Buffer.concat(current, bytes));
      current = [];
      bytes = 0;
    }
    current.push(msg);
    bytes += msg.length;
  });
  if (current.length) datagrams.push(Buffer.concat(current, bytes));
  return datagrams;
}

function main(): void {
  console.log(`# bench/ipvs-codec: the kernel client's user-space work, natively\n${machineLine()}`);

  const table = desiredTable({ services: 1000, destsPerService: 10 });
  const ops: IpvsOp[] = [];
  for (const s of table.services) {
    ops.push({ op: 'add-service', service: s.service });
    for (const dest of s.dests) ops.push({ op: 'add-dest', service: s.service, dest });
  }
  const encode = measure(() => {
    let seq = 1;
    let bytes = 0;
    for (const op of ops) bytes += frameMessage(FAMILY, NLM_F_REQUEST | NLM_F_ACK, seq++, 0, encodeOp(op)).length;
    return bytes;
  });
  printRow(`encode ${ops.length} messages (1000 x 10 apply on an empty table)`, encode);

  const many = desiredTable({ services: 5000, destsPerService: 10 }).services.flatMap((s) => s.dests);
  const decodeAll = (datagrams: Buffer[], decodeStats = true) => () => {
    let decoded = 0;
    for (const datagram of datagrams) {
      for (const msg of splitMessages(datagram)) {
        const nested = findAttribute(parseGenl(msg.data).attrs, CmdAttr.DEST);
        if (nested && decodeDest(nested, 'ipv4', decodeStats).weight === 1) decoded++;
      }
    }
    if (decoded !== many.length) throw new Error(`decoded ${decoded} of ${many.length} dests`);
    return decoded;
  };
  for (const withStats of [true, false]) {
    const datagrams = dumpDatagrams(many, withStats);
    const totalBytes = datagrams.reduce((n, d) => n + d.length, 0);
    const what = withStats ? 'as the kernel sends them' : 'the same without STATS/STATS64 (what skipping stats would cost)';
    printRow(`decode ${many.length} dests, ${what} (${datagrams.length} datagrams, ${(totalBytes / 1048576).toFixed(1)} MiB)`, measure(decodeAll(datagrams)));
    // What plan and apply do: the kernel sends the stats, lvsd reads past them.
    if (withStats) printRow(`decode ${many.length} dests as sent, counters skipped (plan / apply read)`, measure(decodeAll(datagrams, false)));
  }
}

main();
