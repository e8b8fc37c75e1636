/**
 * Fault suite, part 1b: SIGKILL of `lvsd run` on a 1000 x 10 config, at five points: in
 * start-up (its lock taken, nothing written), at three shares of the writes of its first
 * pass, and at rest after it (test/kernel/faults/kill.ts says how they are aimed). The
 * restart is a plain `lvsd apply`, which must take the dead daemon's lock over and show all
 * the apply kills show. Lab only: root, IPVS, ipvsadm. The file flushes the IPVS table of
 * its network namespace (the suite gives each file its own).
 */
// lab-file-timeout: 1500
import { describeKills } from './faults/kill.js';

describeKills('run');
