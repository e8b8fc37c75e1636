import { FakeIpvs } from '../../src/ipvs/fake.js';
import { KNOWN_SCHEDULERS } from '../../src/ipvs/constants.js';
import { defineIpvsContract } from '../contract/ipvs-contract.js';

defineIpvsContract('FakeIpvs', {
  client: async () => new FakeIpvs(),
  syncInterface: 'lo',
  schedulers: KNOWN_SCHEDULERS,
  bigBatchServices: 1000,
});
