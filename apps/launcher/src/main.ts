#!/usr/bin/env node
/**
 * `npm start`: the whole EdgeNAS stack on embedded defaults — a Temporal dev server (SQLite file), the API
 * (SQLite database), a worker serving both task queues, and a device agent profiling this machine's CPU.
 * A child that exits on its own is restarted with exponential backoff; one that keeps crashing stops the
 * stack. Ctrl-C / SIGTERM stops the children in reverse order, then Temporal.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { resolveApiKeys } from './api-key';
import {
  LaunchConfig,
  LaunchConfigError,
  LaunchFlags,
  childEnv,
  localAgents,
  resolveLaunchConfig,
} from './config';
import { useColour } from './output';
import { TrainingBackendLine, ready } from './ready';
import { probeTrainingBackend } from '@edgenas/proxy-trainer/child-process';
import { ChildHandle, ChildSpec, Supervisor } from './supervisor';
import { ConfigError } from '@edgenas/config';
import { TASK_QUEUES } from '@edgenas/contracts';
import {
  PollerKind,
  WaitAborted,
  httpOk,
  taskQueuePolled,
  tcpAccepts,
  temporalAnswers,
  waitUntil,
} from './wait';

/** Repository root: dist/apps/launcher/src → four levels up (or apps/launcher/src under ts-node). */
function projectRoot(): string {
  let dir = resolve(__dirname, '..', '..', '..');
  if (dir.endsWith('/dist') || dir.endsWith('\\dist')) dir = resolve(dir, '..');
  return dir;
}

/** Compiled entry point of another app, beside this one in dist/. */
function appMain(app: string): string {
  return resolve(__dirname, '..', '..', app, 'src', 'main.js');
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function parseFlags(argv: readonly string[]): LaunchFlags {
  const program = new Command()
    .name('edgenas')
    .description('Start EdgeNAS locally: Temporal dev server, API, worker and a device agent for this CPU')
    .option('--port <port>', 'API port (env PORT, default 3000)')
    .option('--data-dir <dir>', 'data directory (env EDGENAS_DATA_DIR, default .edgenas)')
    .option(
      '--temporal-port <port>',
      'Temporal dev server gRPC port (env EDGENAS_TEMPORAL_PORT, default 7233)',
    )
    .option(
      '--temporal-ui-port <port|off>',
      'Temporal Web UI port, or "off" (env EDGENAS_TEMPORAL_UI_PORT, default 8233)',
    )
    .option(
      '--agent-name <name>',
      'device name of the local agent (env EDGENAS_AGENT_NAME, default local-cpu)',
    )
    .option('--agent-spaces <list>', 'spaces the local agent profiles (env EDGENAS_AGENT_SPACES)')
    .option(
      '--agent-precisions <list>',
      'one local agent per precision: fp32 (local-cpu), int8 (local-cpu-int8) or fp32,int8 ' +
        '(env EDGENAS_AGENT_PRECISIONS, default fp32)',
    )
    .addOption(new Option('--no-api', 'do not start the API (env EDGENAS_API=0)'))
    .addOption(new Option('--no-worker', 'do not start the worker (env EDGENAS_WORKER=0)'))
    .addOption(new Option('--no-agent', 'do not start the local device agent (env EDGENAS_AGENT=0)'))
    .parse(argv);
  const o = program.opts<Record<string, string | boolean | undefined>>();
  const fromCli = (name: string) => program.getOptionValueSource(name) === 'cli';
  const str = (name: string) => (fromCli(name) ? (o[name] as string) : undefined);
  const bool = (name: string) => (fromCli(name) ? (o[name] as boolean) : undefined);
  return {
    port: str('port'),
    dataDir: str('dataDir'),
    temporalPort: str('temporalPort'),
    temporalUiPort: str('temporalUiPort'),
    agentName: str('agentName'),
    agentSpaces: str('agentSpaces'),
    agentPrecisions: str('agentPrecisions'),
    api: bool('api'),
    worker: bool('worker'),
    agent: bool('agent'),
  };
}

/** One readiness probe of a started child. */
interface ReadinessWait {
  readonly what: string;
  readonly probe: () => Promise<boolean>;
  readonly timeoutMs: number;
  readonly intervalMs: number;
}

async function main(): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  const colour = useColour(Boolean(process.stdout.isTTY), process.env);
  let config: LaunchConfig;
  try {
    config = resolveLaunchConfig(process.env, parseFlags(process.argv), {
      cwd: process.cwd(),
      projectRoot: projectRoot(),
      isExecutable,
      platform: process.platform,
    });
  } catch (err) {
    if (err instanceof LaunchConfigError || err instanceof ConfigError) {
      process.stderr.write(`edgenas: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.temporal.kind === 'missing') {
    process.stderr.write(`edgenas: ${config.temporal.message}\n`);
    return 1;
  }
  const temporal = config.temporal;

  const apps = [
    ...(config.api.enabled ? ['api'] : []),
    ...(config.worker.enabled ? ['worker'] : []),
    ...(config.agent.enabled ? ['agent'] : []),
  ];
  const missing = apps.filter((app) => !existsSync(appMain(app)));
  if (missing.length > 0) {
    process.stderr.write(
      `edgenas: ${missing.map((a) => appMain(a)).join(', ')} not found: build first with \`npm run build\`\n`,
    );
    return 1;
  }

  mkdirSync(config.dataDir, { recursive: true });
  const keys = resolveApiKeys(process.env.EDGENAS_API_KEYS, config.dataDir);
  const env = childEnv(process.env, config, keys.keys);
  // Children write into pipes: tell them whether to colour, as the launcher does.
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  if (colour) env.FORCE_COLOR = '1';
  else env.NO_COLOR = '1';
  // The console is for people: the API and the worker log readable lines unless JSON was asked for.
  env.EDGENAS_LOG_FORMAT ??= 'pretty';

  let exitCode = 0;
  let shuttingDown: Promise<void> | undefined;
  let finished: () => void = () => undefined;
  const allStopped = new Promise<void>((r) => (finished = r));
  const stopping = new AbortController();
  const supervisor: Supervisor = new Supervisor({
    out,
    colour,
    prefixWidth: 8,
    selfName: 'edgenas',
    onCrashLoop: (_exit, message) => {
      log(`✖ ${message}`);
      void shutdown(1);
    },
  });
  const log = (message: string) => supervisor.log('edgenas', message);

  const shutdown = (code: number): Promise<void> => {
    exitCode = Math.max(exitCode, code);
    if (!shuttingDown) {
      stopping.abort();
      shuttingDown = supervisor.stopAll().then((exits) => {
        const unclean = exits.filter((e) => e.signal === 'SIGKILL');
        log(
          `stopped${unclean.length > 0 ? ` (${unclean.map((e) => e.name).join(', ')} had to be killed)` : ''}`,
        );
        finished();
      });
    }
    return shuttingDown;
  };
  // Once shutdown began (a signal during start-up), start nothing more.
  const startChild = (spec: ChildSpec) => {
    if (stopping.signal.aborted) throw new WaitAborted(`not starting ${spec.name}: shutting down`);
    return supervisor.start(spec);
  };
  /**
   * Starts a child and waits until each probe holds in turn. A crash restarts the child (the timeout then
   * counts from its new start); waiting stops once the child is given up on or shutdown begins.
   */
  const startAndWait = async (
    spec: ChildSpec,
    waits: (child: ChildHandle) => readonly ReadinessWait[],
  ): Promise<void> => {
    const child = startChild(spec);
    const ended = new AbortController();
    void child.ended.then(() => ended.abort());
    const signal = AbortSignal.any([ended.signal, stopping.signal]);
    for (const w of waits(child)) {
      await waitUntil(w.what, w.probe, {
        timeoutMs: w.timeoutMs,
        intervalMs: w.intervalMs,
        signal,
        since: child.startedAt,
      });
    }
  };
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) {
      log(`${signal} again: killing everything now`);
      supervisor.killAll();
      process.exit(130);
    }
    log(`${signal}: stopping (press Ctrl-C again to kill at once)`);
    void shutdown(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  // Which backend the worker's trainings will use (native TensorFlow, else wasm and why), for the banner.
  const training: Promise<TrainingBackendLine | undefined> = config.worker.enabled
    ? probeTrainingBackend({ env }).catch((err: unknown) => ({
        name: 'unknown',
        reason: err instanceof Error ? err.message : String(err),
      }))
    : Promise.resolve(undefined);
  try {
    if (config.api.enabled && (await tcpAccepts('localhost', config.api.port))) {
      throw new Error(`port ${config.api.port} is in use: pick another API port with --port or PORT`);
    }
    if (temporal.kind === 'dev-server') {
      if (await tcpAccepts('localhost', temporal.port)) {
        throw new Error(
          `port ${temporal.port} is in use: stop what listens there, pick another with --temporal-port, ` +
            `or use that Temporal server with TEMPORAL_ADDRESS=localhost:${temporal.port}`,
        );
      }
      log(
        `starting Temporal dev server (${temporal.source === 'PATH' ? 'temporal on PATH' : temporal.binary})`,
      );
      await startAndWait(
        {
          name: 'temporal',
          command: temporal.binary,
          args: temporal.args,
          env,
          cwd: process.cwd(),
          stopTimeoutMs: 15_000,
        },
        () => [
          {
            what: `Temporal dev server on ${temporal.address}`,
            probe: () => temporalAnswers(temporal.address, temporal.namespace),
            timeoutMs: 90_000,
            intervalMs: 500,
          },
        ],
      );
    } else {
      log(`using the Temporal server at ${temporal.address} (TEMPORAL_ADDRESS)`);
      await waitUntil(
        `Temporal server at ${temporal.address}`,
        () => temporalAnswers(temporal.address, temporal.namespace),
        { timeoutMs: 30_000, intervalMs: 500, signal: stopping.signal },
      );
    }
    log(`Temporal answers on ${temporal.address} (namespace ${temporal.namespace})`);

    const base = `http://localhost:${config.api.port}`;
    if (config.api.enabled) {
      await startAndWait(
        { name: 'api', command: process.execPath, args: [appMain('api')], env, cwd: process.cwd() },
        () => [{ what: `API on ${base}`, probe: () => apiHealthy(base), timeoutMs: 60_000, intervalMs: 300 }],
      );
    }
    if (config.worker.enabled) {
      // Polled by this worker process: a crashed one stays listed among the pollers for a while.
      const polled = (worker: ChildHandle, queue: string, kind: PollerKind) => () =>
        taskQueuePolled(temporal.address, temporal.namespace, queue, kind, worker.pid());
      await startAndWait(
        {
          name: 'worker',
          command: process.execPath,
          args: [appMain('worker'), '--queues', 'light,training'],
          env,
          cwd: process.cwd(),
          stopTimeoutMs: 20_000,
        },
        (worker) => [
          {
            what: 'worker polling the light queue',
            probe: polled(worker, TASK_QUEUES.light, 'workflow'),
            timeoutMs: 120_000,
            intervalMs: 500,
          },
          {
            what: 'worker polling the training queue',
            probe: polled(worker, TASK_QUEUES.training, 'activity'),
            timeoutMs: 60_000,
            intervalMs: 500,
          },
        ],
      );
    }
    if (config.agent.enabled) {
      for (const agent of localAgents(config.agent)) {
        startChild({
          name: agent.child,
          command: process.execPath,
          args: [
            appMain('agent'),
            'run',
            '--api',
            base,
            '--name',
            agent.name,
            '--precision',
            agent.precision,
            '--space',
            config.agent.spaces.join(','),
          ],
          env: { ...env, EDGENAS_API_KEY: keys.primary },
          cwd: process.cwd(),
        });
      }
    }
    if (!stopping.signal.aborted) out(ready(config, keys, { colour, training: await training }));
  } catch (err) {
    if (!(err instanceof WaitAborted)) {
      log(`✖ ${err instanceof Error ? err.message : String(err)}`);
      await shutdown(1);
    }
  }
  // Nothing else may keep the process alive (e.g. every part switched off): wait for a signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await allStopped;
  clearInterval(keepAlive);
  return exitCode;
}

async function apiHealthy(base: string): Promise<boolean> {
  return httpOk(`${base}/v1/health`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`edgenas: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
