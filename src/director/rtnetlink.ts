/**
 * AddressClient over rtnetlink (the `netlink` package's RtNetlinkSocket): RTM_GETLINK and
 * RTM_GETADDR dumps to read, RTM_NEWLINK to create a dummy and bring a link up, RTM_NEWADDR
 * and RTM_DELADDR for addresses. Like everything lvsd does to the kernel, it acts on the
 * network namespace of the process.
 *
 * The package leaves IFLA_LINKINFO as raw bytes, so the one nested attribute we need
 * (IFLA_INFO_KIND) is written and read below with src/netlink's writer and cursor.
 */
import { FlagsNew } from 'netlink/dist/constants.js';
// Not through the package's index: that loads nl80211 and wireguard too (5 MiB resident).
import { createRtNetlink, type RtNetlinkSocket } from 'netlink/dist/rt/rt.js';
import { AF_INET, AF_INET6, addressToBytes, bytesToAddress } from '../netlink/inet.js';
import { AttrCursor } from '../netlink/reader.js';
import { NetlinkWriter } from '../netlink/writer.js';
import {
  addressFamily,
  AddressError,
  heldAddressId,
  linkCreateReason,
  reasonForCode,
  type AddressClient,
  type AddressSnapshot,
  type HeldAddress,
  type LinkKind,
  type LinkState,
} from './vip-addresses.js';

const IFLA_INFO_KIND = 1;

/** IFLA_LINKINFO { IFLA_INFO_KIND "<kind>\0" }, as the payload of the linkinfo attribute. */
function encodeLinkKind(kind: string): Buffer {
  const w = new NetlinkWriter(32);
  w.string(IFLA_INFO_KIND, kind);
  return w.bytes();
}

/** IFLA_INFO_KIND out of an IFLA_LINKINFO payload; null when absent or unreadable. */
function decodeLinkKind(linkinfo: Buffer | undefined): string | null {
  if (!linkinfo) return null;
  try {
    const c = new AttrCursor(linkinfo);
    return c.find(IFLA_INFO_KIND) ? c.string() : null;
  } catch {
    return null; // a link whose kind cannot be read is listed without one
  }
}

/** "Request rejected: EEXIST" (the package's wording) -> "EEXIST". */
function errnoCode(err: unknown): string {
  const message = (err as Error).message ?? String(err);
  const match = /Request rejected: (\S+)/.exec(message);
  return match ? (match[1] as string) : '';
}

export class RtnetlinkAddresses implements AddressClient {
  private constructor(private readonly socket: RtNetlinkSocket) {}

  static open(): RtnetlinkAddresses {
    return new RtnetlinkAddresses(createRtNetlink());
  }

  async read(): Promise<AddressSnapshot> {
    const linkMessages = await this.socket.getLinks();
    const links: LinkState[] = linkMessages.map((m) => ({
      name: m.attrs.ifname ?? `if${m.data.index}`,
      index: m.data.index ?? 0,
      kind: decodeLinkKind(m.attrs.linkinfo),
      up: Boolean(m.data.flags?.up),
    }));
    const names = new Map(links.map((l) => [l.index, l.name]));
    const addressMessages = await this.socket.getAddresses();
    const addresses: HeldAddress[] = [];
    for (const m of addressMessages) {
      const family =
        m.data.family === AF_INET ? 'ipv4' : m.data.family === AF_INET6 ? 'ipv6' : null;
      const bytes = family === 'ipv4' ? (m.attrs.local ?? m.attrs.address) : m.attrs.address;
      const name = names.get(m.data.index ?? -1);
      if (!family || !bytes || !name) continue;
      addresses.push({
        address: bytesToAddress(bytes, family),
        prefix: m.data.prefixlen ?? 0,
        interface: name,
      });
    }
    return { links, addresses };
  }

  async createLink(name: string, kind: LinkKind): Promise<void> {
    // An unknown kind makes the kernel request_module("rtnl-link-<kind>") first.
    await this.attempt(
      `create ${kind}`,
      name,
      () =>
        this.socket.newLink(
          {},
          { ifname: name, linkinfo: encodeLinkKind(kind) },
          { flags: FlagsNew.CREATE | FlagsNew.EXCL },
        ),
      (code) => linkCreateReason(kind, code),
    );
  }

  async setUp(name: string): Promise<void> {
    const index = await this.indexOf(name, 'set up');
    await this.attempt('set up', name, () =>
      this.socket.setLink({ index, flags: { up: true }, change: { up: true } }),
    );
  }

  async addAddress(held: HeldAddress): Promise<void> {
    const index = await this.indexOf(held.interface, 'add address', heldAddressId(held));
    await this.attempt('add address', heldAddressId(held), () =>
      this.socket.newAddress(this.header(held, index), this.attributes(held), {
        flags: FlagsNew.CREATE | FlagsNew.EXCL,
      }),
    );
  }

  async deleteAddress(held: HeldAddress): Promise<void> {
    const index = await this.indexOf(held.interface, 'delete address', heldAddressId(held));
    await this.attempt('delete address', heldAddressId(held), () =>
      this.socket.delAddress(this.header(held, index), this.attributes(held)),
    );
  }

  async close(): Promise<void> {
    this.socket.socket.close();
  }

  private header(held: HeldAddress, index: number) {
    const ipv6 = addressFamily(held.address) === 'ipv6';
    // A VIP must answer at once: no duplicate address detection for IPv6 (keepalived does the same).
    return {
      family: ipv6 ? AF_INET6 : AF_INET,
      prefixlen: held.prefix,
      index,
      scope: 0,
      ...(ipv6 ? { flags: { nodad: true as const } } : {}),
    };
  }

  private attributes(held: HeldAddress) {
    const ipv6 = addressFamily(held.address) === 'ipv6';
    const bytes = addressToBytes(held.address).subarray(0, ipv6 ? 16 : 4);
    return ipv6 ? { address: bytes } : { local: bytes, address: bytes };
  }

  private async indexOf(name: string, operation: string, object = name): Promise<number> {
    const [link] = await this.socket.getLink({}, { ifname: name }).catch((err: unknown) => {
      const code = errnoCode(err);
      throw new AddressError(
        operation,
        object,
        code,
        code === 'ENODEV' ? `no interface named ${name}` : reasonForCode(code),
      );
    });
    if (!link?.data.index)
      throw new AddressError(operation, object, 'ENODEV', `no interface named ${name}`);
    return link.data.index;
  }

  private async attempt(
    operation: string,
    object: string,
    action: () => Promise<unknown>,
    reason = reasonForCode,
  ): Promise<void> {
    try {
      await action();
    } catch (err) {
      const code = errnoCode(err);
      throw new AddressError(operation, object, code, code ? reason(code) : (err as Error).message);
    }
  }
}
