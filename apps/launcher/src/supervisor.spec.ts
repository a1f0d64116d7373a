import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestartPolicyOptions } from './restart-policy';
import { ChildExit, ChildSpec, Supervisor } from './supervisor';

// Real child processes (small `node -e` scripts); only the delays are shortened.
const FAST: RestartPolicyOptions = {
  initialDelayMs: 50,
  maxDelayMs: 200,
  stableAfterMs: 60_000,
  crashLoopCrashes: 3,
  crashLoopWindowMs: 60_000,
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Supervisor', () => {
  let dir: string;
  let output: string;
  let crashLoops: { exit: ChildExit; message: string }[];
  let supervisor: Supervisor;

  const node = (name: string, script: string): ChildSpec => ({
    name,
    command: process.execPath,
    args: ['-e', script],
    env: { PATH: process.env.PATH ?? '', DIR: dir },
    cwd: dir,
    stopTimeoutMs: 5000,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgenas-supervisor-'));
    output = '';
    crashLoops = [];
    supervisor = new Supervisor({
      out: (t) => (output += t),
      colour: false,
      prefixWidth: 8,
      selfName: 'edgenas',
      restartPolicy: FAST,
      onCrashLoop: (exit, message) => crashLoops.push({ exit, message }),
    });
  });

  afterEach(async () => {
    await supervisor.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts a child that died, then stops it on stopAll without restarting it', async () => {
    // The first run dies of SIGKILL; the second stays up.
    const child = supervisor.start(
      node(
        'flaky',
        `const f = require('path').join(process.env.DIR, 'ran');
         if (!require('fs').existsSync(f)) { require('fs').writeFileSync(f, ''); process.kill(process.pid, 'SIGKILL'); }
         setInterval(() => {}, 1000);`,
      ),
    );
    const firstPid = child.pid();
    await waitFor('second start', () => (output.match(/started \(pid \d+\)/g) ?? []).length === 2);
    expect(output).toContain('edgenas  │ flaky was killed by SIGKILL; restarting in 0.05 s (restart 1)');
    const secondPid = child.pid();
    expect(secondPid).not.toBe(firstPid);
    expect(supervisor.alivePids()).toEqual([secondPid]);

    const exits = await supervisor.stopAll();
    expect(exits).toEqual([{ name: 'flaky', code: null, signal: 'SIGTERM' }]);
    expect(await child.ended).toEqual({ name: 'flaky', code: null, signal: 'SIGTERM' });
    expect(alive(secondPid as number)).toBe(false);
    expect(output.match(/restarting/g)).toHaveLength(1);
    expect(crashLoops).toEqual([]);
  });

  it('gives up on a child that keeps crashing, naming its last exit', async () => {
    const child = supervisor.start(node('crasher', 'process.exit(7)'));
    const last = await child.ended;
    expect(last).toEqual({ name: 'crasher', code: 7, signal: null });
    expect(output).toContain('crasher exited with code 7; restarting in 0.05 s (restart 1)');
    expect(output).toContain('crasher exited with code 7; restarting in 0.1 s (restart 2)');
    expect(output).not.toContain('restart 3');
    expect(output.match(/started \(pid \d+\)/g)).toHaveLength(3);
    expect(crashLoops).toEqual([
      {
        exit: last,
        message:
          'crasher is crash-looping (3 crashes within 1 min; last: crasher exited with code 7); stopping everything',
      },
    ]);
  });

  it('kills what a crashed child left in its process group', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    // The child starts a long-lived process of its own (in its group), then crashes.
    supervisor.start(
      node(
        'parent',
        `const { spawn } = require('child_process');
         const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
         require('fs').writeFileSync(require('path').join(process.env.DIR, 'grandchild.pid'), String(g.pid));
         setTimeout(() => process.exit(1), 200);`,
      ),
    );
    await waitFor('the crash', () => output.includes('parent exited with code 1; restarting'));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(existsSync(pidFile)).toBe(true);
    await waitFor('the grandchild killed', () => !alive(grandchild));
  });
});
