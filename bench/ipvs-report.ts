/**
 * Shared bits of the host benchmarks: how a figure is measured (warm-up, then the median of
 * several runs, min and max beside it) and how the machine is named in the output, so
 * results pasted into bench/results say where they came from.
 */
import { cpus, hostname, release, totalmem } from 'node:os';

export interface Measurement {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
}

export function summarize(samples: number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    medianMs: median,
    minMs: sorted[0] as number,
    maxMs: sorted[sorted.length - 1] as number,
    runs: sorted.length,
  };
}

/** One warm-up run, then `runs` timed runs of a synchronous piece of work. */
export function measure(work: () => unknown, runs = 7): Measurement {
  work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    work();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

/** The same for asynchronous work (awaited one run at a time). */
export async function measureAsync(work: () => Promise<unknown>, runs = 7): Promise<Measurement> {
  await work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

export function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function printRow(label: string, m: Measurement, goal?: string): void {
  const spread = `(min ${ms(m.minMs)}, max ${ms(m.maxMs)}, ${m.runs} runs)`;
  console.log(
    `${label.padEnd(64, '.')} ${ms(m.medianMs).padStart(8)} ms  ${spread}${goal ? `  ${goal}` : ''}`,
  );
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return (
    `# machine: ${hostname()}, ${cpu} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ` +
    `${release()}, Node ${process.version}; ${new Date().toISOString()}`
  );
}
