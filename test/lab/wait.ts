/** Polling for tests that wait on something outside the process (a daemon, a kernel, a socket). */

export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
}

/** Polls until `check` returns a truthy value, failing after `timeoutMs` with `what` and the last error. */
export async function waitUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs, pollMs }: WaitOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
