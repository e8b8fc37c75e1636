/**
 * The IPVS decoders and the operation encoder over buffers of their own, as tests hold them:
 * the kernel client's entry points (decode*At, opBody), called on a whole buffer.
 */
import { decodeDestAt, decodeServiceAt, decodeStatsAt } from '../../src/ipvs/codec.js';
import type { IpvsOp } from '../../src/ipvs/client.js';
import { opBody } from '../../src/ipvs/kernel-client.js';
import type { Family, LiveDest, LiveService, Stats } from '../../src/ipvs/model.js';
import { NetlinkWriter } from '../../src/netlink/writer.js';

/** The attributes nested in IPVS_CMD_ATTR_SERVICE. */
export function decodeService(nested: Buffer): LiveService {
  return decodeServiceAt(nested, 0, nested.length);
}

/** The attributes nested in IPVS_CMD_ATTR_DEST, of a service of `family`. */
export function decodeDest(nested: Buffer, family: Family): LiveDest {
  return decodeDestAt(nested, 0, nested.length, family);
}

/** The attributes nested in a STATS or STATS64 attribute. */
export function decodeStats(nested: Buffer): Stats {
  return decodeStatsAt(nested, 0, nested.length);
}

/** The genl payload (command + attributes) of one operation, as a batch carries it. */
export function encodeOp(op: IpvsOp): Buffer {
  const w = new NetlinkWriter(256);
  opBody(op)(w);
  return w.bytes();
}
