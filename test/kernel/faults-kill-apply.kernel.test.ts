/**
 * Fault suite, part 1a: SIGKILL of `lvsd apply` during a 1000 x 10 apply, at five points
 * across its writes (at 5% to 98% of the objects; test/kernel/faults/kill.ts says how they
 * are aimed and what every restart must show). Lab only: root, IPVS, ipvsadm. The file
 * flushes the IPVS table of its network namespace (the suite gives each file its own).
 */
// lab-file-timeout: 1500
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ipvsadm } from './faults/lvsd.js';
import {
  KILL_POINTS,
  killRound,
  killSetup,
  measure,
  summarize,
  type KillSetup,
  type RoundResult,
  type Timing,
} from './faults/kill.js';

/** Each round runs lvsd three times on 11,000 objects: minutes when the lab's host is busy. */
const ROUND_TIMEOUT_MS = 900_000;

describe.skipIf(process.env.LVSD_LAB !== '1')('fault suite: SIGKILL of lvsd apply', () => {
  let setup: KillSetup;
  let timing: Timing;
  const results: RoundResult[] = [];

  beforeAll(async () => {
    setup = await killSetup();
    timing = await measure('apply', setup);
  }, ROUND_TIMEOUT_MS);

  afterAll(async () => {
    if (results.length) summarize('apply', results);
    await ipvsadm('-C');
  });

  for (const [i, point] of KILL_POINTS.apply.entries()) {
    it(
      `kill ${i + 1} of ${KILL_POINTS.apply.length} (${point.phase}, ${point.fraction}): a plain apply converges`,
      async () => {
        results.push(
          await killRound('apply', `${i + 1}/${KILL_POINTS.apply.length}`, point, timing, setup),
        );
      },
      ROUND_TIMEOUT_MS,
    );
  }
});
