import { defineConfig } from 'vitest/config';

// Unit tests run on any host. Kernel tests (test/kernel) need IPVS and root: they run
// in the kernel lab through vitest.kernel.config.ts. Namespace tests (*.netns.test.ts)
// time things to 100 ms and run alone through vitest.netns.config.ts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/kernel/**', 'test/**/*.netns.test.ts', 'node_modules/**'],
    testTimeout: 20_000,
  },
});
