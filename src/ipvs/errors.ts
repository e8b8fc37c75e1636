/**
 * What a refused IPVS operation means, in the words ipvsadm users know (libipvs'
 * ipvs_strerror table: the same errno means different things for different commands),
 * plus what the kernel's checks in ip_vs_ctl.c tell us beyond ipvsadm's wording.
 * Both IpvsClient implementations build their errors here, so they agree word for word.
 */
import { IpvsError, describeOpObject, type IpvsOp } from './client.js';
import { Errno } from '../netlink/constants.js';
import { IP_VS_IFNAME_MAXLEN, IP_VS_PENAME_MAXLEN, IP_VS_SCHEDNAME_MAXLEN } from './constants.js';
import { familyOf } from '../netlink/inet.js';
import { type Family, isFwmarkKey, type ServiceKey } from './model.js';

/** strerror() for the errno values IPVS and netlink return; anything else gets its number. */
const strerror: Record<number, string> = {
  [Errno.EPERM]: 'Operation not permitted',
  [Errno.ENOENT]: 'No such file or directory',
  [Errno.ESRCH]: 'No such process',
  [Errno.EINTR]: 'Interrupted system call',
  [Errno.EIO]: 'Input/output error',
  [Errno.ENOMEM]: 'Cannot allocate memory',
  [Errno.EBUSY]: 'Device or resource busy',
  [Errno.EEXIST]: 'File exists',
  [Errno.ENODEV]: 'No such device',
  [Errno.EINVAL]: 'Invalid argument',
  [Errno.ERANGE]: 'Numerical result out of range',
  [Errno.ENOPROTOOPT]: 'Protocol not available',
  [Errno.EOPNOTSUPP]: 'Operation not supported',
  [Errno.EAFNOSUPPORT]: 'Address family not supported by protocol',
  [Errno.EMSGSIZE]: 'Message too long',
  [Errno.ENOBUFS]: 'No buffer space available',
  [Errno.ECONNREFUSED]: 'Connection refused',
};

export function errnoText(errno: number): string {
  return strerror[errno] ?? `errno ${errno}`;
}

export const PERMISSION_HELP =
  'Permission denied (you must be root): the kernel answers IPVS commands, reads included, ' +
  'only to processes with CAP_NET_ADMIN. Run lvsd as root, or give it the capability ' +
  '(systemd: AmbientCapabilities=CAP_NET_ADMIN; or setcap cap_net_admin+ep on the node binary).';

export const NO_IPVS_HELP =
  'IPVS is not available in this kernel: the generic netlink family "IPVS" does not exist, ' +
  'so the ip_vs module is not loaded and could not be loaded on demand. Load it with ' +
  '`modprobe ip_vs` (as root, and ip_vs_<scheduler> for the schedulers you use), or run on a ' +
  'kernel built with CONFIG_IP_VS. Inside a container, load the module on the host.';

/** The reason alone ("Service not defined") for an errno returned to `op`, as ipvsadm words it. */
export function reasonFor(op: IpvsOp, errno: number): string {
  switch (op.op) {
    case 'add-service':
    case 'edit-service': {
      if (errno === Errno.EEXIST && op.op === 'add-service') return 'Service already exists';
      if (errno === Errno.ESRCH && op.op === 'edit-service') return 'No such service';
      if (errno === Errno.ENOENT) {
        // The kernel answers ENOENT for an unknown scheduler and for an unknown persistence
        // engine alike; with no engine asked for, it is the scheduler.
        const sched = `ip_vs_${op.service.scheduler}`;
        return op.service.pe
          ? `Scheduler not found: ${sched}, or persistence engine not found: ip_vs_pe_${op.service.pe}`
          : `Scheduler not found: ${sched}`;
      }
      if (errno === Errno.EINVAL && op.service.family === 'ipv6') {
        return (
          'Invalid operation: an IPv6 persistence netmask must be a prefix length from 1 to 128' +
          ` (got ${op.service.netmask})`
        );
      }
      break;
    }
    case 'delete-service':
      if (errno === Errno.ESRCH) return 'No such service';
      break;
    case 'zero':
      if (errno === Errno.ESRCH) return 'No such service';
      break;
    case 'add-dest':
    case 'edit-dest':
    case 'delete-dest':
      if (errno === Errno.ESRCH) return 'Service not defined';
      if (errno === Errno.EEXIST && op.op === 'add-dest') return 'Destination already exists';
      if (errno === Errno.ENOENT && op.op !== 'add-dest') return 'No such destination';
      if (errno === Errno.ERANGE)
        return 'Invalid thresholds: the lower threshold is higher than the upper threshold';
      if (errno === Errno.EINVAL && op.op !== 'delete-dest') {
        return (
          'Invalid operation. Possibly wrong module version, address not unicast, ... ' +
          '(the kernel also refuses a GUE tunnel without tunnel port, and a dest of another address ' +
          'family than its service unless it is tunnelled and no sync daemon runs)'
        );
      }
      break;
    case 'add-daemon':
      if (errno === Errno.EEXIST) return 'Daemon has already run';
      if (errno === Errno.ENODEV) return `No such device: ${op.daemon.interface}`;
      if (errno === Errno.EINVAL) {
        return (
          'Invalid operation: a multicast group must be a multicast address, and no service may' +
          ' mix address families'
        );
      }
      break;
    case 'delete-daemon':
      if (errno === Errno.ESRCH) return 'No daemon is running';
      break;
    case 'set-timeouts':
      if (errno === Errno.EINVAL) return 'Invalid timeout value';
      break;
    case 'flush':
      break;
  }
  return genericReason(errno);
}

/** libipvs' command-independent wording, then strerror. */
export function genericReason(errno: number): string {
  switch (errno) {
    case Errno.EPERM:
      return PERMISSION_HELP;
    case Errno.EINVAL:
      return 'Invalid operation.  Possibly wrong module version, address not unicast, ...';
    case Errno.ENOPROTOOPT:
      return 'Protocol not available';
    case Errno.ENOMEM:
      return 'Memory allocation problem';
    case Errno.EOPNOTSUPP:
      return 'Operation not supported with IPv6';
    case Errno.EAFNOSUPPORT:
      return 'Operation not supported with specified address family';
    case Errno.EMSGSIZE:
      return 'Module is wrong version';
    default:
      return errnoText(errno);
  }
}

export function opError(op: IpvsOp, errno: number, extra?: string): IpvsError {
  const reason = reasonFor(op, errno);
  return new IpvsError(op.op, describeOpObject(op), errno, extra ? `${reason} (${extra})` : reason);
}

/** A failure of a read (list-services, get-service, ...), not tied to an IpvsOp. */
export function readError(operation: string, object: string, errno: number): IpvsError {
  return new IpvsError(operation, object, errno, genericReason(errno));
}

// ---------------------------------------------------------------------------
// Checks both implementations make before anything reaches the kernel: what the codec could
// not encode faithfully (an IPv6 address in an IPv4 service) or what the kernel's attribute
// policy refuses (names longer than 15 characters). errno 22 (EINVAL), as the kernel would.

function invalid(op: IpvsOp, reason: string): IpvsError {
  return new IpvsError(op.op, describeOpObject(op), Errno.EINVAL, reason);
}

/**
 * What one batch's checks already found, so a 1000 x 10 apply checks each service key once,
 * not once per dest (a fresh process runs these checks unoptimised: issue 21), and each
 * real's address once. Only successes are kept: a failure is built for its own operation.
 */
export interface OpChecks {
  validKeys: WeakSet<ServiceKey>;
  families: Map<string, Family | null>;
}

export function newOpChecks(): OpChecks {
  return { validKeys: new WeakSet(), families: new Map() };
}

function addressFamily(address: string, checks: OpChecks | undefined): Family | null {
  if (!checks) return familyOf(address);
  let family = checks.families.get(address);
  if (family === undefined) {
    family = familyOf(address);
    checks.families.set(address, family);
  }
  return family;
}

function checkServiceKey(op: IpvsOp, key: ServiceKey, checks?: OpChecks): IpvsError | null {
  if (checks?.validKeys.has(key)) return null;
  const error = serviceKeyError(op, key, checks);
  if (!error) checks?.validKeys.add(key);
  return error;
}

function serviceKeyError(
  op: IpvsOp,
  key: ServiceKey,
  checks: OpChecks | undefined,
): IpvsError | null {
  if (isFwmarkKey(key)) {
    if (!Number.isInteger(key.fwmark) || key.fwmark < 1 || key.fwmark > 0xffffffff) {
      return invalid(op, `Invalid fwmark ${key.fwmark}`);
    }
    return null;
  }
  const family = addressFamily(key.address, checks);
  if (family === null) return invalid(op, `Invalid service address ${key.address}`);
  if (family !== key.family)
    return invalid(op, `Service address ${key.address} is not ${key.family}`);
  if (!Number.isInteger(key.port) || key.port < 0 || key.port > 65535)
    return invalid(op, `Invalid port ${key.port}`);
  return null;
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/** null when `op` can be sent; otherwise the error to report for it. `checks`: a batch's memo. */
export function validateOp(op: IpvsOp, checks?: OpChecks): IpvsError | null {
  switch (op.op) {
    case 'add-service':
    case 'edit-service': {
      const keyError = checkServiceKey(op, op.service, checks);
      if (keyError) return keyError;
      const s = op.service;
      if (!s.scheduler || Buffer.byteLength(s.scheduler) > IP_VS_SCHEDNAME_MAXLEN - 1) {
        return invalid(
          op,
          `Invalid scheduler name "${s.scheduler}" (1 to ${IP_VS_SCHEDNAME_MAXLEN - 1} characters)`,
        );
      }
      if (s.pe && Buffer.byteLength(s.pe) > IP_VS_PENAME_MAXLEN - 1) {
        return invalid(op, `Invalid persistence engine name "${s.pe}"`);
      }
      const maxPrefix = s.family === 'ipv6' ? 128 : 32;
      if (!Number.isInteger(s.netmask) || s.netmask < 0 || s.netmask > maxPrefix) {
        return invalid(op, `Invalid persistence netmask /${s.netmask} for ${s.family}`);
      }
      if (!Number.isInteger(s.timeout) || s.timeout < 0 || s.timeout > 0xffffffff) {
        return invalid(op, `Invalid persistence timeout ${s.timeout}`);
      }
      return null;
    }
    case 'delete-service':
      return checkServiceKey(op, op.service, checks);
    case 'zero':
      return op.service ? checkServiceKey(op, op.service, checks) : null;
    case 'add-dest':
    case 'edit-dest':
    case 'delete-dest': {
      const keyError = checkServiceKey(op, op.service, checks);
      if (keyError) return keyError;
      const family = addressFamily(op.dest.address, checks);
      if (family === null) return invalid(op, `Invalid destination address ${op.dest.address}`);
      if ('family' in op.dest && op.dest.family !== family) {
        return invalid(op, `Destination address ${op.dest.address} is not ${op.dest.family}`);
      }
      if (!Number.isInteger(op.dest.port) || op.dest.port < 0 || op.dest.port > 65535) {
        return invalid(op, `Invalid port ${op.dest.port}`);
      }
      if (op.op !== 'delete-dest') {
        const d = op.dest;
        if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > 0x7fffffff) {
          return invalid(op, `Invalid weight ${d.weight}`);
        }
        if (!isU32(d.upperThreshold))
          return invalid(op, `Invalid upper threshold ${d.upperThreshold}`);
        if (!isU32(d.lowerThreshold))
          return invalid(op, `Invalid lower threshold ${d.lowerThreshold}`);
        if (!Number.isInteger(d.tunnelPort) || d.tunnelPort < 0 || d.tunnelPort > 65535) {
          return invalid(op, `Invalid tunnel port ${d.tunnelPort}`);
        }
      }
      return null;
    }
    case 'add-daemon': {
      const d = op.daemon;
      if (!d.interface || Buffer.byteLength(d.interface) > IP_VS_IFNAME_MAXLEN - 1) {
        return invalid(op, `Invalid interface name "${d.interface}"`);
      }
      if (d.mcastGroup && familyOf(d.mcastGroup) === null)
        return invalid(op, `Invalid multicast group ${d.mcastGroup}`);
      return null;
    }
    case 'set-timeouts': {
      for (const [name, value] of Object.entries(op.timeouts)) {
        if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffffffff)) {
          return invalid(op, `Invalid ${name} timeout ${value}`);
        }
      }
      return null;
    }
    case 'delete-daemon':
    case 'flush':
      return null;
  }
}

/**
 * IPVS cannot be reached at all: no IPVS in the kernel, no permission, or no netlink
 * (not Linux). The message says what to do; the CLI prints it as it is.
 */
export class IpvsUnavailableError extends Error {
  override readonly name = 'IpvsUnavailableError';
  constructor(
    readonly kind: 'no-ipvs' | 'permission' | 'netlink',
    message: string,
    readonly errno = 0,
  ) {
    super(message);
  }
}

/** A whole-table read ended early because its caller's `yieldTo` asked (ReadOptions). */
export class ReadYielded extends Error {
  override readonly name = 'ReadYielded';
  constructor() {
    super('the read gave way to other work');
  }
}
