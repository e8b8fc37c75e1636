/**
 * Service-level quorum, pure. The sorry server goes in when the sum of healthy weights
 * drops below `min - hysteresis` (or no healthy real is left) and comes out when it is
 * back to `min + hysteresis`, keepalived's rule; between the two the state stays as it was,
 * so a service hovering at its quorum does not flap the sorry server in and out.
 */

export interface Quorum {
  min: number;
  hysteresis: number;
}

/** Whether the sorry server should be in, given whether it is now. */
export function sorryNeeded(
  active: boolean,
  healthyWeight: number,
  quorum: Quorum | null,
): boolean {
  if (healthyWeight <= 0) return true;
  if (!quorum) return false;
  if (active) return healthyWeight < quorum.min + quorum.hysteresis;
  return healthyWeight < quorum.min - quorum.hysteresis;
}

export function quorumReason(
  active: boolean,
  healthyWeight: number,
  quorum: Quorum | null,
): string {
  if (healthyWeight <= 0) return 'no healthy real server';
  if (!quorum) return `healthy weight ${healthyWeight}`;
  return active
    ? `healthy weight ${healthyWeight} below quorum ${quorum.min} (hysteresis ${quorum.hysteresis})`
    : `healthy weight ${healthyWeight} back to quorum ${quorum.min} (hysteresis ${quorum.hysteresis})`;
}
