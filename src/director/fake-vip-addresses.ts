/**
 * The in-memory AddressClient, a network namespace for tests: links and addresses, refusing
 * what the kernel refuses (a second dummy of the same name, an address on a missing
 * interface, the same address twice, deleting an address that is not there), with the
 * kernel's errno names.
 */
import {
  AddressError,
  linkCreateReason,
  reasonForCode,
  sameHeldAddress,
  heldAddressId,
  type AddressClient,
  type AddressSnapshot,
  type HeldAddress,
  type LinkKind,
  type LinkState,
} from './vip-addresses.js';

export interface FakeAddressesOptions {
  /** Links besides lo (which always exists, up, with 127.0.0.1/8 and ::1/128). */
  links?: Array<Omit<LinkState, 'index'>>;
  addresses?: HeldAddress[];
  /** false imitates a kernel without the dummy driver (EOPNOTSUPP on create). */
  dummySupported?: boolean;
  /**
   * Imitates loading the tunnel module: creating an ipip / ip6tnl link makes the fallback
   * device and then fails with EEXIST, as the kernel does.
   */
  tunnelModules?: boolean;
}

export class FakeAddresses implements AddressClient {
  readonly links: LinkState[];
  addresses: HeldAddress[];
  /** Every write, in order, for tests that check what was sent. */
  readonly writes: string[] = [];
  private readonly dummySupported: boolean;
  private readonly tunnelModules: boolean;

  constructor(options: FakeAddressesOptions = {}) {
    this.links = [{ name: 'lo', index: 1, kind: null, up: true }];
    for (const link of options.links ?? [])
      this.links.push({ ...link, index: this.links.length + 1 });
    this.addresses = [
      { address: '127.0.0.1', prefix: 8, interface: 'lo' },
      { address: '::1', prefix: 128, interface: 'lo' },
      ...(options.addresses ?? []),
    ];
    this.dummySupported = options.dummySupported ?? true;
    this.tunnelModules = options.tunnelModules ?? true;
  }

  async read(): Promise<AddressSnapshot> {
    return {
      links: this.links.map((l) => ({ ...l })),
      addresses: this.addresses.map((a) => ({ ...a })),
    };
  }

  async createLink(name: string, kind: LinkKind): Promise<void> {
    this.writes.push(`create ${kind} ${name}`);
    if (kind !== 'dummy') {
      const fallback = kind === 'ipip' ? 'tunl0' : 'ip6tnl0';
      if (this.tunnelModules && !this.link(fallback))
        this.links.push({ name: fallback, index: this.links.length + 1, kind, up: false });
      if (!this.tunnelModules)
        throw new AddressError(
          `create ${kind}`,
          name,
          'EOPNOTSUPP',
          linkCreateReason(kind, 'EOPNOTSUPP'),
        );
    }
    if (kind === 'dummy' && !this.dummySupported)
      throw new AddressError(
        `create ${kind}`,
        name,
        'EOPNOTSUPP',
        linkCreateReason(kind, 'EOPNOTSUPP'),
      );
    if (this.link(name)) throw this.refuse(`create ${kind}`, name, 'EEXIST');
    this.links.push({ name, index: this.links.length + 1, kind, up: false });
  }

  async setUp(name: string): Promise<void> {
    this.writes.push(`up ${name}`);
    const link = this.link(name);
    if (!link) throw this.refuse('set up', name, 'ENODEV');
    link.up = true;
  }

  async addAddress(held: HeldAddress): Promise<void> {
    this.writes.push(`add ${heldAddressId(held)}`);
    if (!this.link(held.interface)) throw this.refuse('add address', heldAddressId(held), 'ENODEV');
    if (this.addresses.some((a) => sameHeldAddress(a, held)))
      throw this.refuse('add address', heldAddressId(held), 'EEXIST');
    this.addresses.push({ ...held });
  }

  async deleteAddress(held: HeldAddress): Promise<void> {
    this.writes.push(`delete ${heldAddressId(held)}`);
    if (!this.link(held.interface))
      throw this.refuse('delete address', heldAddressId(held), 'ENODEV');
    const index = this.addresses.findIndex((a) => sameHeldAddress(a, held));
    if (index < 0) throw this.refuse('delete address', heldAddressId(held), 'EADDRNOTAVAIL');
    this.addresses.splice(index, 1);
  }

  async close(): Promise<void> {}

  private link(name: string): LinkState | undefined {
    return this.links.find((l) => l.name === name);
  }

  private refuse(operation: string, object: string, code: string): AddressError {
    return new AddressError(operation, object, code, reasonForCode(code));
  }
}
