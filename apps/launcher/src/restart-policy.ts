/**
 * When a crashed child starts again, and when restarting is pointless. Pure: the clock comes in as
 * arguments, so the backoff sequence, the reset after a stable run and the crash-loop decision are
 * unit-testable.
 */

export interface RestartPolicyOptions {
  /** Delay before the first restart; it doubles with each consecutive crash, up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A child that ran at least this long before it crashed is restarted after `initialDelayMs` again. */
  readonly stableAfterMs: number;
  /** This many crashes within `crashLoopWindowMs` is a crash loop: the launcher stops restarting. */
  readonly crashLoopCrashes: number;
  readonly crashLoopWindowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
  crashLoopCrashes: 5,
  crashLoopWindowMs: 120_000,
};

export type RestartDecision =
  /** `restart` counts this child's restarts since the launcher started, from 1. */
  | { readonly kind: 'restart'; readonly delayMs: number; readonly restart: number }
  | { readonly kind: 'crash-loop'; readonly crashes: number; readonly windowMs: number };

/** One child's crash history. */
export class RestartPolicy {
  private consecutive = 0;
  private restarts = 0;
  private crashTimes: number[] = [];

  constructor(private readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /** The child crashed at `now` (ms) after running `uptimeMs`: restart it after a delay, or give up. */
  onCrash(now: number, uptimeMs: number): RestartDecision {
    const o = this.options;
    if (uptimeMs >= o.stableAfterMs) this.consecutive = 0;
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < o.crashLoopWindowMs), now];
    if (this.crashTimes.length >= o.crashLoopCrashes) {
      return { kind: 'crash-loop', crashes: this.crashTimes.length, windowMs: o.crashLoopWindowMs };
    }
    const delayMs = Math.min(o.initialDelayMs * 2 ** this.consecutive, o.maxDelayMs);
    this.consecutive++;
    this.restarts++;
    return { kind: 'restart', delayMs, restart: this.restarts };
  }
}

/** `1 s`, `0.5 s`, `2 min`. */
export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The log line of a restart, after the child's exit (`worker was killed by SIGKILL`). */
export function describeRestart(exit: string, decision: { delayMs: number; restart: number }): string {
  return `${exit}; restarting in ${formatDuration(decision.delayMs)} (restart ${decision.restart})`;
}

/** The log line when the launcher gives up on a child, naming its last exit. */
export function describeCrashLoop(
  name: string,
  lastExit: string,
  decision: { crashes: number; windowMs: number },
): string {
  return (
    `${name} is crash-looping (${decision.crashes} crashes within ${formatDuration(decision.windowMs)}; ` +
    `last: ${lastExit}); stopping everything`
  );
}
