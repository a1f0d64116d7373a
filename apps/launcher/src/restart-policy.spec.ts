import {
  DEFAULT_RESTART_POLICY,
  RestartDecision,
  RestartPolicy,
  describeCrashLoop,
  describeRestart,
  formatDuration,
} from './restart-policy';

/** Crashes after `uptimes[i]` ms of running, each restart after the decided delay; returns the decisions. */
function crashes(policy: RestartPolicy, uptimes: readonly number[], start = 0): RestartDecision[] {
  let now = start;
  const decisions: RestartDecision[] = [];
  for (const uptime of uptimes) {
    now += uptime;
    const d = policy.onCrash(now, uptime);
    decisions.push(d);
    if (d.kind === 'restart') now += d.delayMs;
  }
  return decisions;
}

const delays = (ds: readonly RestartDecision[]) => ds.map((d) => (d.kind === 'restart' ? d.delayMs : d.kind));

describe('RestartPolicy', () => {
  it('defaults: 1 s doubling to 30 s, reset after 60 s up, 5 crashes within 2 min is a crash loop', () => {
    expect(DEFAULT_RESTART_POLICY).toEqual({
      initialDelayMs: 1000,
      maxDelayMs: 30_000,
      stableAfterMs: 60_000,
      crashLoopCrashes: 5,
      crashLoopWindowMs: 120_000,
    });
  });

  it('doubles the delay per consecutive crash up to the maximum', () => {
    // 40 s up each time: not stable (< 60 s), yet never 5 crashes within 2 min
    const ds = crashes(new RestartPolicy(), Array<number>(8).fill(40_000));
    expect(delays(ds)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(ds.map((d) => (d.kind === 'restart' ? d.restart : 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('starts again from the first delay after a child stayed up long enough', () => {
    const ds = crashes(new RestartPolicy(), [40_000, 40_000, 40_000, 60_000, 40_000]);
    expect(delays(ds)).toEqual([1000, 2000, 4000, 1000, 2000]);
    // the restart count keeps counting
    expect(ds[4]).toEqual({ kind: 'restart', delayMs: 2000, restart: 5 });
  });

  it('gives up at the 5th crash within 2 minutes', () => {
    // a child that dies at once: crashes at 0, 1, 3, 7, 15 s
    const ds = crashes(new RestartPolicy(), [0, 0, 0, 0, 0]);
    expect(delays(ds)).toEqual([1000, 2000, 4000, 8000, 'crash-loop']);
    expect(ds[4]).toEqual({ kind: 'crash-loop', crashes: 5, windowMs: 120_000 });
  });

  it('forgets crashes older than the window', () => {
    const policy = new RestartPolicy();
    for (const t of [0, 10_000, 20_000, 30_000]) expect(policy.onCrash(t, 1000).kind).toBe('restart');
    // 4 crashes in the window before this one: the one at 0 has left it
    expect(policy.onCrash(125_000, 1000).kind).toBe('restart');
    expect(policy.onCrash(126_000, 1000)).toEqual({ kind: 'crash-loop', crashes: 5, windowMs: 120_000 });
  });

  it('takes other limits', () => {
    const policy = new RestartPolicy({
      initialDelayMs: 10,
      maxDelayMs: 25,
      stableAfterMs: 1000,
      crashLoopCrashes: 3,
      crashLoopWindowMs: 60_000,
    });
    expect(delays(crashes(policy, [0, 0, 0]))).toEqual([10, 20, 'crash-loop']);
  });
});

describe('restart and crash-loop lines', () => {
  it('name the child, its exit, the delay and the restart count', () => {
    expect(describeRestart('worker was killed by SIGKILL', { delayMs: 2000, restart: 1 })).toBe(
      'worker was killed by SIGKILL; restarting in 2 s (restart 1)',
    );
    expect(describeCrashLoop('worker', 'worker exited with code 1', { crashes: 5, windowMs: 120_000 })).toBe(
      'worker is crash-looping (5 crashes within 2 min; last: worker exited with code 1); stopping everything',
    );
    expect(formatDuration(500)).toBe('0.5 s');
    expect(formatDuration(30_000)).toBe('30 s');
    expect(formatDuration(90_000)).toBe('90 s');
  });
});
