/**
 * `npm run demo` (test/lab/demo.sh runs this, compiled, as root on a kernel with IPVS):
 * builds the LVS-NAT lab in network namespaces, then shows lvsd at work on it: the plan for
 * the bundled example, the apply, the resulting table, and requests from the client answered
 * by both real servers. Exits 1 if any step fails or a real never answers.
 */
import { natLab, type BuiltLab } from './topology.js';

const config = process.env.LVSD_DEMO_CONFIG ?? 'examples/nat-web.yaml';
const requests = Number(process.env.LVSD_DEMO_REQUESTS ?? 4);

function banner(text: string): void {
  process.stdout.write(`\n=== ${text}\n`);
}

/** Runs the built CLI in the director (this namespace), shows its output, checks its exit code. */
async function lvsd(nat: BuiltLab, args: string[], expectedCodes: number[] = [0]): Promise<void> {
  banner(`lvsd ${args.join(' ')}`);
  const result = await nat.director.lvsd(args, { env: { ...process.env, NO_COLOR: '1' } });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (!expectedCodes.includes(result.code))
    throw new Error(`lvsd ${args.join(' ')} exited with ${result.code}`);
}

async function main(): Promise<number> {
  banner(
    'LVS-NAT lab: client 10.0.0.2 -> director 10.0.0.1 (VIP) -> real1 192.168.10.2, real2 192.168.11.2',
  );
  const started = Date.now();
  const nat = await natLab();
  process.stdout.write(
    `namespaces, links, routes and servers ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  try {
    // plan exits 2 when changes are pending: on an empty table they are.
    await lvsd(nat, ['plan', '-c', config], [2]);
    await lvsd(nat, ['apply', '-c', config]);
    await lvsd(nat, ['ls']);
    banner(`${requests} requests from the client: curl http://${nat.vip}/`);
    const answers: string[] = [];
    for (let i = 1; i <= requests; i++) {
      const answer = await nat.client
        .httpGet(`http://${nat.vip}/`)
        .catch((err: Error) => `no answer (${err.message})`);
      answers.push(answer);
      process.stdout.write(`request ${i}: answered by ${answer}\n`);
    }
    const silent = nat.reals.map((r) => r.name).filter((name) => !answers.includes(name));
    if (silent.length > 0) {
      process.stdout.write(`\nFAILED: ${silent.join(' and ')} never answered\n`);
      return 1;
    }
    process.stdout.write(
      `\nBoth real servers answered (${answers.join(', ')}): lvsd programmed the kernel's IPVS table.\n`,
    );
    return 0;
  } finally {
    await nat.teardown();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`\ndemo failed: ${err.message}\n`);
    process.exitCode = 1;
  },
);
