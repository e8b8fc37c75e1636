/**
 * Generic netlink: the header every message of a genl family starts with, and the controller
 * (nlctrl) that turns a family's name into the id its messages are addressed to. What a
 * family's commands and attributes mean is its own code's (src/ipvs/codec.ts for IPVS).
 */
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  GENL_HDRLEN,
  GENL_ID_CTRL,
} from './constants.js';
import { AttrCursor, NetlinkDecodeError } from './reader.js';
import type { NetlinkTransport } from './transport.js';

/** nlctrl does not check the version it is asked with; lvsd has always sent 1. */
const CTRL_VERSION = 1;

/** A reply or request whose payload is a genl header plus attributes. */
export interface GenlPayload {
  cmd: number;
  version: number;
  /** The attributes after the 4-byte genl header. */
  attrs: Buffer;
}

export function parseGenl(data: Buffer): GenlPayload {
  if (data.length < GENL_HDRLEN)
    throw new NetlinkDecodeError(`genl payload of ${data.length} bytes`);
  return { cmd: data.readUInt8(0), version: data.readUInt8(1), attrs: data.subarray(GENL_HDRLEN) };
}

/** Where a message's attributes start, after its genl header (payload and end: offsets). */
export function genlAttrsAt(payload: number, end: number): number {
  if (end - payload < GENL_HDRLEN)
    throw new NetlinkDecodeError(`genl payload of ${end - payload} bytes`);
  return payload + GENL_HDRLEN;
}

export interface FamilyLookup {
  /** The request's errno (EPERM without CAP_NET_ADMIN in some setups); 0 when answered. */
  errno: number;
  /** The family's id; null when the kernel has no family of that name (module not loaded). */
  id: number | null;
}

/** CTRL_CMD_GETFAMILY: the id of the genl family `name` (resolved once per socket). */
export async function lookupFamily(
  transport: NetlinkTransport,
  name: string,
): Promise<FamilyLookup> {
  const result = await transport.request(GENL_ID_CTRL, (w) => {
    w.genlHeader(CTRL_CMD_GETFAMILY, CTRL_VERSION);
    w.string(CTRL_ATTR_FAMILY_NAME, name);
  });
  const first = result.replies[0];
  const id = result.errno === 0 && first ? decodeFamilyId(parseGenl(first.data).attrs) : null;
  return { errno: result.errno, id };
}

function decodeFamilyId(attrs: Buffer): number | null {
  const c = new AttrCursor(attrs);
  return c.find(CTRL_ATTR_FAMILY_ID) ? c.u16('CTRL_ATTR_FAMILY_ID') : null;
}
