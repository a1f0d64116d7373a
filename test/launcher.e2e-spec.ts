import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TASK_QUEUES } from '@edgenas/contracts';

// `npm start` end to end: the compiled launcher (npm test builds first) with a real Temporal dev server, the
// API, the worker and a local device agent, on non-default ports in a temp data dir.
const ROOT = resolve(__dirname, '..');
const LAUNCHER = join(ROOT, 'dist', 'apps', 'launcher', 'src', 'main.js');

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

async function freePort(from: number, to: number): Promise<number> {
  for (let p = from; p <= to; p++) if (await portFree(p)) return p;
  throw new Error(`no free port in ${from}–${to}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  failFast?: () => string | undefined,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    const failure = failFast?.();
    if (failure) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The check's result, or false when it throws (a server that is not up yet). */
const orFalse =
  (check: () => Promise<boolean>): (() => Promise<boolean>) =>
  () =>
    check().catch(() => false);

describe('launcher (npm start)', () => {
  let dir: string;
  let launcher: ChildProcess | undefined;
  let output = '';
  let allOutput = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  beforeAll(() => {
    if (!existsSync(LAUNCHER)) throw new Error(`${LAUNCHER} missing: run \`npm run build\` first`);
    dir = mkdtempSync(join(tmpdir(), 'edgenas-launcher-e2e-'));
  });

  afterAll(() => {
    // Should the test fail midway: leave no process behind.
    if (launcher && exit === undefined) launcher.kill('SIGKILL');
    for (const pid of pidsIn(allOutput)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function pidsIn(text: string): number[] {
    return [...text.matchAll(/started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  }

  /** Pids of one child's starts, in order (a restart adds one). */
  function pidsOf(name: string): number[] {
    const line = new RegExp(`^${name} +│ started \\(pid (\\d+)\\)$`, 'gm');
    return [...output.matchAll(line)].map((m) => Number(m[1]));
  }

  /** Starts the launcher without waiting for it. */
  async function spawnLauncher(extraArgs: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    output = '';
    exit = undefined;
    const apiPort = await freePort(3400, 3409);
    const temporalPort = await freePort(7340, 7349);
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
    for (const k of ['TEMPORAL_ADDRESS', 'EDGENAS_API_KEYS', 'DATABASE_URL', 'PORT', 'EDGENAS_DATA_DIR']) {
      delete env[k];
    }
    Object.assign(env, extraEnv);
    const args = [LAUNCHER, '--port', String(apiPort), '--temporal-port', String(temporalPort)];
    args.push('--temporal-ui-port', 'off', '--data-dir', join(dir, 'data'), ...extraArgs);
    const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher = child;
    const collect = (d: string) => {
      output += d;
      allOutput += d;
    };
    child.stdout?.setEncoding('utf8').on('data', collect);
    child.stderr?.setEncoding('utf8').on('data', collect);
    child.once('exit', (code, signal) => (exit = { code, signal }));
    return { child, apiPort, temporalPort };
  }

  async function startLauncher(extraArgs: string[]) {
    const started = await spawnLauncher(extraArgs);
    await waitFor(
      'launcher ready',
      () => output.includes('EdgeNAS ready'),
      150_000,
      () => (exit ? `launcher exited (${JSON.stringify(exit)}):\n${output}` : undefined),
    );
    return started;
  }

  it('starts Temporal, API, worker and agent, answers, and stops every child on SIGINT', async () => {
    const { child, apiPort, temporalPort } = await startLauncher(['--agent-spaces', 'proxy-28']);
    const pids = pidsIn(output);
    expect(pids.length).toBe(4); // temporal, api, worker, agent
    for (const pid of pids) expect(alive(pid)).toBe(true);
    // The worker logs JSON; on the launcher's console it reads as pretty lines, prefixed with its name.
    expect(output).toMatch(/^worker +│ \[[^\]]+\] INFO: worker started/m);
    expect(output).not.toMatch(/^worker +│ \{/m);

    // The generated key is persisted and accepted; no key is refused.
    const key = readFileSync(join(dir, 'data', 'api-key'), 'utf8').trim();
    expect(output).toContain(key);
    // The banner names the backend the worker's trainings use (tfjs-node where it was built, else wasm).
    expect(output).toMatch(/Training backend {2}(tensorflow|wasm) \(auto: /);
    const base = `http://localhost:${apiPort}`;
    const devices = await fetch(`${base}/v1/devices`, { headers: { authorization: `Bearer ${key}` } });
    expect(devices.status).toBe(200);
    expect((await fetch(`${base}/v1/devices`)).status).toBe(401);
    expect((await fetch(`${base}/docs`)).status).toBe(200);

    // A Temporal client connects to the launched dev server.
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    try {
      const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(ns.namespaceInfo?.name).toBe('default');
    } finally {
      await connection.close();
    }

    child.kill('SIGINT');
    await waitFor('launcher exit', () => exit !== undefined, 90_000);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(await portFree(apiPort)).toBe(true);
    expect(await portFree(temporalPort)).toBe(true);
    expect(output).toMatch(/stopped/);
    expect(output).not.toMatch(/restarting/);
  }, 300_000);

  it('restarts Temporal (keeping its workflows) and the worker after kill -9, and still stops cleanly', async () => {
    const { child, apiPort, temporalPort } = await startLauncher(['--no-agent']);
    const base = `http://localhost:${apiPort}`;
    const lastPid = (name: string) => pidsOf(name).at(-1) as number;
    const stillUp = () => (exit ? `launcher exited (${JSON.stringify(exit)}):\n${output}` : undefined);
    const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
    try {
      // A workflow no worker serves stays running: it must outlive the dev server's restart.
      const client = new Client({ connection });
      const parked = await client.workflow.start('parkedWorkflow', {
        taskQueue: 'launcher-e2e-unserved',
        workflowId: `parked-${Date.now()}`,
      });

      const temporalPid = lastPid('temporal');
      process.kill(temporalPid, 'SIGKILL');
      await waitFor('Temporal restarted', () => pidsOf('temporal').length === 2, 60_000, stillUp);
      expect(output).toContain('temporal was killed by SIGKILL; restarting in 1 s (restart 1)');
      expect(alive(temporalPid)).toBe(false);
      const described = async () => (await parked.describe()).status.name === 'RUNNING';
      await waitFor('the parked workflow known again', orFalse(described), 90_000, stillUp);

      const workerPid = lastPid('worker');
      process.kill(workerPid, 'SIGKILL');
      await waitFor('worker restarted', () => pidsOf('worker').length === 2, 60_000, stillUp);
      expect(output).toContain('worker was killed by SIGKILL; restarting in 1 s (restart 1)');
      const newWorkerPid = lastPid('worker');
      expect(newWorkerPid).not.toBe(workerPid);
      // The new worker process (its pid in the SDK's identity) polls both queues.
      const pollsWith = (queue: string, type: 1 | 2) =>
        orFalse(async () => {
          const res = await connection.workflowService.describeTaskQueue({
            namespace: 'default',
            taskQueue: { name: queue },
            taskQueueType: type,
          });
          return (res.pollers ?? []).some((p) => p.identity?.startsWith(`${newWorkerPid}@`));
        });
      await waitFor('new worker on the light queue', pollsWith(TASK_QUEUES.light, 1), 180_000, stillUp);
      await waitFor('new worker on the training queue', pollsWith(TASK_QUEUES.training, 2), 60_000, stillUp);
      const ready = orFalse(async () => (await fetch(`${base}/health/ready`)).status === 200);
      await waitFor('API ready', ready, 60_000, stillUp);
      expect(output).not.toMatch(/crash-looping/);
    } finally {
      await connection.close();
    }

    const running = [lastPid('temporal'), lastPid('api'), lastPid('worker')];
    const beforeStop = output.length;
    child.kill('SIGINT');
    await waitFor('launcher exit', () => exit !== undefined, 90_000);
    expect(exit).toEqual({ code: 0, signal: null });
    for (const pid of running) expect(alive(pid)).toBe(false);
    expect(output.slice(beforeStop)).not.toMatch(/restarting/);
    expect(await portFree(apiPort)).toBe(true);
    expect(await portFree(temporalPort)).toBe(true);
  }, 600_000);

  it('a restart reuses the local device: with its agent state kept, and after that state was lost', async () => {
    const localDevices = async (apiPort: number) => {
      const key = readFileSync(join(dir, 'data', 'api-key'), 'utf8').trim();
      const res = await fetch(`http://localhost:${apiPort}/v1/devices`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return ((await res.json()) as { id: string; name: string }[]).filter((d) => d.name === 'restart-cpu');
    };
    const stop = async (child: ChildProcess) => {
      child.kill('SIGINT');
      await waitFor('launcher exit', () => exit !== undefined, 90_000);
      expect(exit).toEqual({ code: 0, signal: null });
    };
    const run = async (expectLine: RegExp) => {
      const started = await startLauncher([
        '--no-worker',
        '--agent-name',
        'restart-cpu',
        '--agent-spaces',
        'proxy-28',
      ]);
      await waitFor(
        'the agent knows its device',
        () => expectLine.test(output),
        60_000,
        () => (/agent.*(exited|✖)/.test(output) ? output : undefined),
      );
      const devices = await localDevices(started.apiPort);
      await stop(started.child);
      return { devices, output };
    };

    const first = await run(/registered device restart-cpu as /);
    expect(first.devices).toHaveLength(1);
    // state kept: the agent goes straight to work, registering nothing
    const kept = await run(/blocks: \d+\/\d+|architectures: \d+\/\d+|online: /);
    expect(kept.devices).toEqual(first.devices);
    expect(kept.output).not.toMatch(/registered device|taking it over/);
    // state lost: the name is taken under this key, so the agent takes its device over
    rmSync(join(dir, 'data', 'agent-restart-cpu'), { recursive: true, force: true });
    const lost = await run(/already registered as .* taking it over with a new token/);
    expect(lost.devices).toEqual(first.devices);
    expect(allOutput).not.toMatch(/HTTP 409/);
  }, 400_000);

  it('stops everything, naming the child and its last exit, when a child keeps crashing', async () => {
    // The worker refuses an invalid variable at start-up (the API, which reads it too, is off): it exits at once.
    const { temporalPort } = await spawnLauncher(['--no-api', '--no-agent'], {
      EDGENAS_CALIBRATION_REFRESH_MINUTES: 'never',
    });
    await waitFor('launcher exit', () => exit !== undefined, 300_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(output).toContain('EDGENAS_CALIBRATION_REFRESH_MINUTES must be a positive number of minutes');
    expect(output).toContain('worker exited with code 1; restarting in 1 s (restart 1)');
    expect(output).toContain('worker exited with code 1; restarting in 8 s (restart 4)');
    expect(output).toMatch(
      /✖ worker is crash-looping \(5 crashes within 2 min; last: worker exited with code 1\); stopping everything/,
    );
    expect(pidsOf('worker')).toHaveLength(5);
    expect(output).not.toContain('EdgeNAS ready');
    for (const pid of pidsIn(output)) expect(alive(pid)).toBe(false);
    expect(await portFree(temporalPort)).toBe(true);
  }, 400_000);
});
