import { defineConfig } from 'vitest/config';

// Kernel tests (test/kernel/**/*.kernel.test.ts) need root and a kernel with IPVS: they run
// inside the kernel lab (test/lab/kernel-suite.sh), one file per fresh network namespace.
// The repository is read-only there (the host root is shared over 9p), so vitest keeps its
// cache in /tmp, and the suite loads this file with `--configLoader runner`, which does not
// write a bundled copy into node_modules/.vite-temp.
export default defineConfig({
  cacheDir: '/tmp/lvsd-vitest-cache',
  test: {
    include: ['test/kernel/**/*.kernel.test.ts'],
    // Files share the kernel of their namespace; the suite gives each its own, one at a time.
    fileParallelism: false,
    // The lab emulates its CPU (qemu TCG): give hooks and tests room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    watch: false,
  },
});
