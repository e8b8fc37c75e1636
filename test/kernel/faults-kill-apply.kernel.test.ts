/**
 * Fault suite, part 1a: SIGKILL of `lvsd apply` during a 1000 x 10 apply, at five points
 * across its writes (at 5% to 98% of the objects; test/kernel/faults/kill.ts says how they
 * are aimed and what every restart must show). Lab only: root, IPVS, ipvsadm. The file
 * flushes the IPVS table of its network namespace (the suite gives each file its own).
 */
// lab-file-timeout: 1500
import { describeKills } from './faults/kill.js';

describeKills('apply');
