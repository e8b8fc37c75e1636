/**
 * Builders for kernel-model objects (src/ipvs/model.ts), shared by every test folder and
 * the contract suite, so a test states only what matters to it and a new field of Dest or
 * Service is defaulted in one place.
 */
import type { Dest, LiveDest, LiveService, Service } from '../src/ipvs/model.js';

export function tcpService(address: string, port: number, extra: Partial<Service> = {}): Service {
  return {
    family: address.includes(':') ? 'ipv6' : 'ipv4',
    protocol: 'tcp',
    address,
    port,
    scheduler: 'wlc',
    flags: { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false },
    timeout: 0,
    netmask: address.includes(':') ? 128 : 32,
    pe: null,
    ...extra,
  } as Service;
}

/** A NAT dest of weight 1, no thresholds, no tunnel settings: the kernel's defaults. */
export function dest(address: string, port: number, extra: Partial<Dest> = {}): Dest {
  return {
    address,
    port,
    family: address.includes(':') ? 'ipv6' : 'ipv4',
    forwarding: 'nat',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnelType: 'ipip',
    tunnelPort: 0,
    tunnelFlags: { csum: false, remcsum: false },
    ...extra,
  };
}

export function live(d: Dest, activeConns = 0, inactiveConns = 0): LiveDest {
  return { ...d, activeConns, inactiveConns, persistConns: 0 };
}

export function liveService(service: Service, dests: LiveDest[]): LiveService {
  return { ...service, dests };
}
