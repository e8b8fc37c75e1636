/**
 * VRRP on one interface and family: the sockets keepalived uses, opened through the
 * raw-socket module, and the receive-side checks before an advert reaches an instance.
 *
 * - Send: a raw protocol-112 socket bound to the source address (the primary address of
 *   the interface, or the unicast source), TTL / hop limit 255, TOS / traffic class 0xc0,
 *   multicast out of this interface without loopback, and a drop-all filter (it never reads).
 * - Receive: a second, unbound socket on the interface that joined the VRRP group: an IPv4
 *   raw socket bound to an address receives no multicast. IPv6: the kernel checks and fills
 *   the checksum (IPV6_CHECKSUM at offset 6) and reports the hop limit and destination.
 * - Announce: a packet socket for gratuitous ARP and unsolicited neighbour advertisements.
 */
import { readFileSync } from 'node:fs';
import { SOL } from '../ffi/libc.js';
import { interfaceIndex, IP, IPV6, RawSocket, encodeLinkSockaddr } from '../ffi/raw-socket.js';
import type { Received, Receiver } from '../ffi/receiver.js';
import { bytesToAddress } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';
import {
  ETH_P_ARP,
  ETH_P_IPV6,
  gratuitousArp,
  parseMac,
  unsolicitedNeighbourAdvert,
} from './announce.js';
import {
  type Advert,
  decodeAdvert,
  decodeIpv4,
  encodeAdvert,
  VRRP_GROUP,
  VRRP_PROTOCOL,
  VRRP_TTL,
} from './packet.js';

const TOS_NETWORK_CONTROL = 0xc0;

/** An advert that passed the link's checks, for the instance of its VRID. */
export interface Heard {
  advert: Advert;
  from: string;
  /** When the receive worker read it (ms since the epoch, fractional). */
  at: number;
}

/** Why a datagram was dropped before any instance saw it. */
export interface Dropped {
  vrid: number | null;
  from: string;
  reason: string;
}

export interface LinkOptions {
  interface: string;
  family: Family;
  /** Source address of the adverts (also the primary address in ties). */
  source: string;
  /** Join the VRRP multicast group (unicast adverts to our address arrive either way). */
  multicast: boolean;
  receiver: Receiver;
  onAdvert: (heard: Heard) => void;
  onDrop: (dropped: Dropped) => void;
}

/** What an instance needs of its link (VrrpLink; tests pass a fake). */
export interface Link {
  readonly source: string;
  readonly interfaceName: string;
  readonly family: Family;
  advertise(advert: Advert, peers: readonly string[] | null): void;
  announce(addresses: readonly string[]): void;
  close(): Promise<void>;
}

export type LinkSpec = Omit<LinkOptions, 'receiver'>;

export class VrrpLink implements Link {
  readonly ifindex: number;
  private readonly send: RawSocket;
  private readonly receive: RawSocket;
  private announcer: RawSocket | null = null;

  constructor(private readonly options: LinkOptions) {
    this.ifindex = interfaceIndex(options.interface);
    this.send = this.openSend();
    try {
      this.receive = this.openReceive();
    } catch (err) {
      this.send.close();
      throw err;
    }
    options.receiver.watch(this.receive, (packet) => this.onPacket(packet));
  }

  get source(): string {
    return this.options.source;
  }

  get interfaceName(): string {
    return this.options.interface;
  }

  get family(): Family {
    return this.options.family;
  }

  private openSend(): RawSocket {
    const { family, interface: name, source } = this.options;
    const s = RawSocket.open({ family, protocol: VRRP_PROTOCOL });
    try {
      s.bindToDevice(name);
      s.dropAll();
      s.multicastInterface(this.ifindex);
      if (family === 'ipv4') {
        s.setInt(SOL.ip, IP.multicastTtl, VRRP_TTL);
        s.setInt(SOL.ip, IP.ttl, VRRP_TTL);
        s.setInt(SOL.ip, IP.tos, TOS_NETWORK_CONTROL);
        s.setInt(SOL.ip, IP.multicastLoop, 0);
      } else {
        s.setInt(SOL.ipv6, IPV6.multicastHops, VRRP_TTL);
        s.setInt(SOL.ipv6, IPV6.unicastHops, VRRP_TTL);
        s.setInt(SOL.ipv6, IPV6.tclass, TOS_NETWORK_CONTROL);
        s.setInt(SOL.ipv6, IPV6.multicastLoop, 0);
        s.setInt(SOL.ipv6, IPV6.checksum, 6);
      }
      s.bind(source, family === 'ipv6' && source.startsWith('fe80:') ? this.ifindex : 0);
      return s;
    } catch (err) {
      s.close();
      throw err;
    }
  }

  private openReceive(): RawSocket {
    const { family, interface: name } = this.options;
    const s = RawSocket.open({ family, protocol: VRRP_PROTOCOL });
    try {
      s.bindToDevice(name);
      if (family === 'ipv6') {
        s.setInt(SOL.ipv6, IPV6.checksum, 6);
        s.setInt(SOL.ipv6, IPV6.recvHoplimit, 1);
        s.setInt(SOL.ipv6, IPV6.recvPktinfo, 1);
      }
      if (this.options.multicast) s.joinGroup(VRRP_GROUP[family], this.ifindex);
      return s;
    } catch (err) {
      s.close();
      throw err;
    }
  }

  /** Sends an advert to the group, or to each unicast peer. */
  advertise(advert: Advert, peers: readonly string[] | null): void {
    const { family, source } = this.options;
    const scope = family === 'ipv6' ? this.ifindex : 0;
    for (const destination of peers ?? [VRRP_GROUP[family]]) {
      const bytes = encodeAdvert(advert, { family, source, destination });
      const linkScoped = destination.startsWith('fe80:') || destination.startsWith('ff02:');
      this.send.send(bytes, destination, linkScoped ? scope : 0);
    }
  }

  /** Gratuitous ARP / unsolicited NA for each address, from this interface's MAC. */
  announce(addresses: readonly string[]): void {
    const mac = parseMac(readFileSync(`/sys/class/net/${this.options.interface}/address`, 'utf8'));
    // Protocol 0: a packet socket that only sends (each frame names its own ethertype).
    this.announcer ??= RawSocket.open({ family: 'packet', protocol: 0 });
    for (const address of addresses) {
      const ipv4 = !address.includes(':');
      const frame = ipv4 ? gratuitousArp(mac, address) : unsolicitedNeighbourAdvert(mac, address);
      const to = encodeLinkSockaddr(
        this.ifindex,
        ipv4 ? ETH_P_ARP : ETH_P_IPV6,
        frame.subarray(0, 6),
      );
      this.announcer.send(frame, to);
    }
  }

  async close(): Promise<void> {
    await this.options.receiver.unwatch(this.receive);
    this.receive.close();
    this.send.close();
    this.announcer?.close();
  }

  private onPacket(packet: Received): void {
    const heard = this.options.family === 'ipv4' ? this.checkIpv4(packet) : this.checkIpv6(packet);
    if (!heard) return;
    if ('reason' in heard) this.options.onDrop(heard);
    else this.options.onAdvert(heard);
  }

  private checkIpv4(packet: Received): Heard | Dropped | null {
    const ip = decodeIpv4(packet.data);
    if (!ip || ip.protocol !== VRRP_PROTOCOL) return null;
    if (ip.source === this.options.source) return null;
    const vrid = ip.payload.length > 1 ? (ip.payload[1] as number) : null;
    if (ip.ttl !== VRRP_TTL)
      return { vrid, from: ip.source, reason: `TTL ${ip.ttl}, not 255: the advert was routed` };
    const decoded = decodeAdvert(ip.payload, {
      family: 'ipv4',
      source: ip.source,
      destination: ip.destination,
    });
    if (!decoded.ok) return { vrid, from: ip.source, reason: decoded.reason };
    return { advert: decoded.advert, from: ip.source, at: packet.at };
  }

  private checkIpv6(packet: Received): Heard | Dropped | null {
    const from = packet.from;
    if (from === this.options.source) return null;
    const vrid = packet.data.length > 1 ? (packet.data[1] as number) : null;
    const hop = packet.controls.find((c) => c.level === SOL.ipv6 && c.type === IPV6.hoplimit);
    const hopLimit = hop ? hop.data.readInt32LE(0) : -1;
    if (hopLimit !== VRRP_TTL)
      return { vrid, from, reason: `hop limit ${hopLimit}, not 255: the advert was routed` };
    const info = packet.controls.find((c) => c.level === SOL.ipv6 && c.type === IPV6.pktinfo);
    const destination = info ? bytesToAddress(info.data.subarray(0, 16), 'ipv6') : VRRP_GROUP.ipv6;
    const decoded = decodeAdvert(packet.data, { family: 'ipv6', source: from, destination });
    if (!decoded.ok) return { vrid, from, reason: decoded.reason };
    return { advert: decoded.advert, from, at: packet.at };
  }
}
