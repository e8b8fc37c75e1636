/**
 * Runs one job at a time and coalesces: requests that arrive while a run is in progress
 * are merged into a single follow-up run, however many there are. The daemon uses it so
 * that two reconcile passes never overlap (each reads the table, plans and writes; two at
 * once would plan against a table the other is changing) and so that a burst of triggers
 * (a reload, then 300 health transitions, then a drift tick) costs at most one extra pass.
 *
 * Each request resolves with the outcome of the first run that started after it was made,
 * which is the first run that can have seen what the caller changed.
 */
export class CoalescingRunner<Reason, Outcome> {
  private running: Promise<void> | null = null;
  private pendingReasons = new Set<Reason>();
  private pendingWaiters: Array<{ resolve: (o: Outcome) => void; reject: (e: unknown) => void }> =
    [];

  /** `onBusy(true)` when a run is asked for while idle, `onBusy(false)` when the last one ends. */
  constructor(
    private readonly job: (reasons: ReadonlySet<Reason>) => Promise<Outcome>,
    private readonly onBusy?: (busy: boolean) => void,
  ) {}

  /** Asks for a run for `reason`; resolves when a run that includes it has finished. */
  request(reason: Reason): Promise<Outcome> {
    this.pendingReasons.add(reason);
    const done = new Promise<Outcome>((resolve, reject) =>
      this.pendingWaiters.push({ resolve, reject }),
    );
    if (!this.running) {
      this.onBusy?.(true);
      this.running = this.loop();
    }
    return done;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves once no run is in progress or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.pendingWaiters.length > 0) {
        const reasons = this.pendingReasons;
        const waiters = this.pendingWaiters;
        this.pendingReasons = new Set();
        this.pendingWaiters = [];
        try {
          const outcome = await this.job(reasons);
          for (const w of waiters) w.resolve(outcome);
        } catch (err) {
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.running = null;
      this.onBusy?.(false);
    }
  }
}

/**
 * Trailing debounce with a ceiling: fires `wait` ms after the last call, but never more
 * than `maxWait` ms after the first call of a burst, so a file rewritten every 100 ms
 * (a log-like generator, a flapping sync job) still gets reloaded.
 */
export class Debouncer {
  private timer: NodeJS.Timeout | null = null;
  /** maxWait after the first call of the burst under way (null: none). */
  private deadline: number | null = null;

  /** `ready`, when given, is asked when the wait is over: not yet, and it waits again, to maxWait. */
  constructor(
    private readonly fire: () => void,
    private readonly wait: number,
    private readonly maxWait: number = Math.max(wait * 10, wait),
    private readonly ready: () => boolean = () => true,
  ) {}

  call(): void {
    this.deadline ??= Date.now() + this.maxWait;
    this.arm(this.deadline);
  }

  private arm(deadline: number): void {
    const delay = Math.max(0, Math.min(this.wait, deadline - Date.now()));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.ready() && Date.now() < deadline) return this.arm(deadline);
      this.deadline = null;
      this.fire();
    }, delay);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deadline = null;
  }
}
