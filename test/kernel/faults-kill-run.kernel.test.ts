/**
 * Fault suite, part 1b: SIGKILL of `lvsd run` on a 1000 x 10 config, at five points: in
 * start-up (its lock taken, nothing written), at three shares of the writes of its first
 * pass, and at rest after it (test/kernel/faults/kill.ts says how they are aimed). The
 * restart is a plain `lvsd apply`, which must take the dead daemon's lock over and show all
 * the apply kills show. Lab only: root, IPVS, ipvsadm. The file flushes the IPVS table of
 * its network namespace (the suite gives each file its own).
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

describe.skipIf(process.env.LVSD_LAB !== '1')('fault suite: SIGKILL of lvsd run', () => {
  let setup: KillSetup;
  let timing: Timing;
  const results: RoundResult[] = [];

  beforeAll(async () => {
    setup = await killSetup();
    timing = await measure('run', setup);
  }, ROUND_TIMEOUT_MS);

  afterAll(async () => {
    if (results.length) summarize('run', results);
    await ipvsadm('-C');
  });

  for (const [i, point] of KILL_POINTS.run.entries()) {
    it(
      `kill ${i + 1} of ${KILL_POINTS.run.length} (${point.phase}, ${point.fraction}): a plain apply converges`,
      async () => {
        results.push(
          await killRound('run', `${i + 1}/${KILL_POINTS.run.length}`, point, timing, setup),
        );
      },
      ROUND_TIMEOUT_MS,
    );
  }
});
