/** Per-phase wall-clock times for `--timings` ("read ... 12 ms"). */
export class PhaseTimer {
  readonly phases: Array<{ name: string; ms: number }> = [];

  async time<T>(name: string, work: () => Promise<T> | T): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.phases.push({ name, ms: performance.now() - start });
    }
  }

  format(): string {
    const width = Math.max(...this.phases.map((p) => p.name.length)) + 4;
    return this.phases
      .map((p) => `${`${p.name} `.padEnd(width, '.')} ${p.ms.toFixed(p.ms < 10 ? 1 : 0)} ms`)
      .join('\n');
  }
}
