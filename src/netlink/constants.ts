/**
 * The numbers of netlink and generic netlink that lvsd's netlink layer uses, from the
 * kernel's include/uapi/linux/netlink.h and genetlink.h, and the errno values the kernel
 * answers with. A family's own numbers live with that family: src/ipvs/constants.ts for
 * IPVS, the rtnetlink and nftables readers in src/director for theirs.
 */

export const NETLINK_GENERIC = 16;

// struct nlmsghdr: u32 length, u16 type, u16 flags, u32 seq, u32 port, all host order.
export const NLMSG_HDRLEN = 16;
export const NLMSG_ALIGNTO = 4;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** In an ACK: the error message was capped (no copy of the request). */
export const NLM_F_CAPPED = 0x100;
/** In an ACK: extended ACK TLVs follow. */
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

// struct nlattr: u16 length (header and value, without padding), u16 type, the value, then
// padding to NLA_ALIGNTO. A nest's length covers its attributes and their padding.
export const NLA_HDRLEN = 4;
export const NLA_ALIGNTO = 4;
/** NLA_F_NESTED and NLA_F_NET_BYTEORDER are flags in the type's top bits, not part of it. */
export const NLA_TYPE_MASK = 0x3fff;
/** The length field is a u16. */
export const NLA_MAX_LENGTH = 0xffff;

/** NLMSG_ALIGN(): where the next message of a datagram begins. */
export function nlmsgAlign(length: number): number {
  return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}
/** NLA_ALIGN(): how many bytes an attribute of this length takes with its padding. */
export function nlaAlign(length: number): number {
  return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

// Generic netlink (linux/genetlink.h): struct genlmsghdr { u8 cmd; u8 version; u16 reserved; }
// and the controller (nlctrl) that resolves a family's name to its id.
export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 16;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;

/**
 * Errno values the kernel answers with, in ACKs and socket errors (asm-generic/errno-base.h,
 * errno.h). The transport uses a few of its own (EIO, ENOBUFS, EMSGSIZE); the IPVS code
 * words the rest as ipvsadm does (src/ipvs/errors.ts).
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  ENOMEM: 12,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ERANGE: 34,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EMSGSIZE: 90,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
} as const;
