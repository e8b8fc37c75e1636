/**
 * The netlink socket over libc against this host's kernel: generic netlink's controller
 * (nlctrl) is there without IPVS and without privileges, so the transport's whole receive
 * path (requests, ACKs, a dump) runs here on real datagrams.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openNetlinkSocket } from '../../src/ffi/netlink-socket.js';
import {
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  Errno,
  GENL_ID_CTRL,
  NETLINK_GENERIC,
} from '../../src/netlink/constants.js';
import { genlAttrsAt, lookupFamily } from '../../src/netlink/genl.js';
import { AttrCursor } from '../../src/netlink/reader.js';
import { NetlinkTransport } from '../../src/netlink/transport.js';

const open: NetlinkTransport[] = [];
function transport(): NetlinkTransport {
  const t = new NetlinkTransport(openNetlinkSocket(NETLINK_GENERIC, { recvBufferSize: 1 << 20 }));
  open.push(t);
  return t;
}
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

describe('netlink socket (libc)', () => {
  it('binds to a port of its own that the kernel picked', () => {
    const a = openNetlinkSocket(NETLINK_GENERIC);
    const b = openNetlinkSocket(NETLINK_GENERIC);
    try {
      expect(a.port).toBeGreaterThan(0);
      expect(b.port).not.toBe(a.port);
      expect(a.recvBufferSize).toBeGreaterThan(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('reports an empty queue as -EAGAIN without waiting, and a closed socket as -EBADF', () => {
    const s = openNetlinkSocket(NETLINK_GENERIC);
    expect(s.receive(Buffer.alloc(4096))).toBe(-Errno.EAGAIN);
    s.close();
    expect(s.receive(Buffer.alloc(4096))).toBe(-9);
  });

  it('a request and its ACK: the controller resolves its own family, and says ENOENT for none', async () => {
    const t = transport();
    expect(await lookupFamily(t, 'nlctrl')).toEqual({ errno: 0, id: GENL_ID_CTRL });
    expect((await lookupFamily(t, 'lvsd-nosuch')).errno).toBe(Errno.ENOENT);
  });

  it('a dump: every family, read in one loop from the one send', async () => {
    const t = transport();
    const names: string[] = [];
    const c = new AttrCursor(Buffer.alloc(0));
    await t.dump(
      GENL_ID_CTRL,
      (w) => w.genlHeader(CTRL_CMD_GETFAMILY, 1),
      (buf, payload, end) => {
        if (c.reset(buf, genlAttrsAt(payload, end), end).find(CTRL_ATTR_FAMILY_NAME))
          names.push(buf.toString('latin1', c.value, c.valueEnd - 1));
      },
    );
    expect(names).toContain('nlctrl');
    expect(t.counters.sendmsgs).toBe(1);
    expect(t.counters.datagramsReceived).toBeGreaterThanOrEqual(2); // data, then NLMSG_DONE
  });
});
