import { defineConfig } from 'vitest/config';

// Tests in network namespaces on the host (root; no IPVS needed): raw sockets and VRRP
// against keepalived, with takeovers timed to 100 ms. They run one file at a time, after
// the unit tests, so that no other test competes for the CPU while they measure.
export default defineConfig({
  test: {
    include: ['test/**/*.netns.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
