import { defineConfig } from 'vitest/config';

// Unit tests run on any host. Kernel tests (test/kernel) need IPVS and root: they run
// in the kernel lab through vitest.kernel.config.ts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/kernel/**', 'node_modules/**'],
    testTimeout: 20_000,
  },
});
