import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { AgentConfig, ConfigError, Env, agentConfig } from '@edgenas/config';
import { DEFAULT_PRECISION, DEVICE_PRECISIONS, DevicePrecision } from '@edgenas/contracts';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { ApiClient, ApiError, ApiUnreachableError, DEFAULT_RETRY, RetryOptions } from './api-client';
import { AgentContext, AgentUsageError, describePass, ensureDevice, runLoop, runPass } from './agent';
import {
  BenchmarkClock,
  BenchmarkOptions,
  DEFAULT_BENCHMARK_OPTIONS,
  benchmarkSignatures,
  defaultDeviceName,
  describeDevice,
} from '@edgenas/device-benchmark';
import { LUT_FILE_FORMAT, readLutFile, writeLutFile } from './lut-file';
import { Log, createProgress } from './progress';
import { parseClasses, parseInputShape, resolveSpaces } from './spaces';
import { AgentStore } from './store';
import { syncPending } from './sync';

export interface CliIo {
  readonly out: Log;
  readonly err: Log;
  /** The environment, read once through the configuration schema (`main.ts` hands in `process.env`). */
  readonly env: Env;
}

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in ${min}–${max}`);
    }
    return n;
  };
}

function clockOption(value: string): BenchmarkClock {
  if (value !== 'wall' && value !== 'cpu') throw new InvalidArgumentError('--clock must be wall or cpu');
  return value;
}

function precisionOption(value: string): DevicePrecision {
  const known = DEVICE_PRECISIONS.find((p) => p === value);
  if (!known) throw new InvalidArgumentError(`--precision must be ${DEVICE_PRECISIONS.join(' or ')}`);
  return known;
}

interface CommonFlags {
  retries: number;
  precision?: DevicePrecision;
  api?: string;
  apiKey?: string;
  name?: string;
  threads: number;
  stateDir?: string;
}

interface BenchFlags {
  rounds: number;
  repeats: number;
  warmup: number;
  chunk: number;
  roundMs: number;
  clock?: BenchmarkClock;
}

type RunFlags = CommonFlags &
  BenchFlags & { space: string; once?: boolean; interval: number; calibration: boolean };

function addCommon(cmd: Command): Command {
  return cmd
    .option('--api <url>', 'EdgeNAS API base URL (default $EDGENAS_API_URL or http://localhost:$PORT|3000)')
    .option('--api-key <key>', 'user API key, needed once to register the device (default $EDGENAS_API_KEY)')
    .option('--name <name>', 'device name (default <hostname>-cpu-t<threads>)')
    .option('--threads <n>', 'ONNX Runtime intra-op threads', intOption('--threads', 1, 256), 1)
    .option(
      '--precision <precision>',
      'fp32, or int8: every block and network is quantized (static QDQ) before timing; another precision is ' +
        'another device (default $EDGENAS_AGENT_PRECISION or fp32)',
      precisionOption,
    )
    .option('--state-dir <dir>', 'local state directory (default $EDGENAS_DATA_DIR/agent-<name>)')
    .option(
      '--retries <n>',
      'attempts per request while the API is unreachable (exponential backoff from 0.5 s)',
      intOption('--retries', 1, 20),
      DEFAULT_RETRY.attempts,
    );
}

function addBench(cmd: Command): Command {
  const d = DEFAULT_BENCHMARK_OPTIONS;
  return cmd
    .option('--rounds <n>', 'interleaved rounds per item', intOption('--rounds', 1, 1000), d.rounds)
    .option(
      '--repeats <n>',
      'timed runs per item per round (at least)',
      intOption('--repeats', 1, 10000),
      d.minRepeats,
    )
    .option('--warmup <n>', 'warm-up runs per item', intOption('--warmup', 0, 10000), d.warmupRuns)
    .option(
      '--chunk <n>',
      'items measured together (live sessions)',
      intOption('--chunk', 1, 1000),
      d.chunkSize,
    )
    .option(
      '--clock <clock>',
      'wall (latency) or cpu (CPU time; 1 thread only, for shared machines; default $EDGENAS_AGENT_CLOCK or wall)',
      clockOption,
    )
    .option(
      '--round-ms <ms>',
      'fast items repeat until a round lasts about this long',
      intOption('--round-ms', 0, 10000),
      d.minRoundMs,
    );
}

function benchOptions(f: CommonFlags & BenchFlags, config: AgentConfig): BenchmarkOptions {
  const clock = f.clock ?? config.clock ?? DEFAULT_BENCHMARK_OPTIONS.clock;
  return {
    ...DEFAULT_BENCHMARK_OPTIONS,
    threads: f.threads,
    rounds: f.rounds,
    minRepeats: f.repeats,
    maxRepeats: Math.max(f.repeats, DEFAULT_BENCHMARK_OPTIONS.maxRepeats),
    warmupRuns: f.warmup,
    chunkSize: f.chunk,
    minRoundMs: f.roundMs,
    clock,
    precision: precision(f, config),
  };
}

function precision(f: CommonFlags, config: AgentConfig): DevicePrecision {
  return f.precision ?? config.precision ?? DEFAULT_PRECISION;
}

function retry(f: CommonFlags): RetryOptions {
  return { ...DEFAULT_RETRY, attempts: f.retries };
}

function deviceName(f: CommonFlags, config: AgentConfig): string {
  return f.name ?? defaultDeviceName(f.threads, precision(f, config));
}

function stateDir(f: CommonFlags, config: AgentConfig, name: string): string {
  if (f.stateDir) return path.resolve(f.stateDir);
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.resolve(config.dataDir, `agent-${safe}`);
}

/**
 * The state `status` reads: the named agent's (or --state-dir); without --name, the only agent state under
 * the data dir when the default name has none (`npm start`'s agent is "local-cpu", not the host name).
 */
function statusStateDir(f: CommonFlags, config: AgentConfig): string {
  const named = stateDir(f, config, deviceName(f, config));
  if (f.stateDir || f.name || fs.existsSync(path.join(named, 'agent.db'))) return named;
  const dataDir = path.resolve(config.dataDir);
  const found = fs.existsSync(dataDir)
    ? fs
        .readdirSync(dataDir)
        .filter((d) => d.startsWith('agent-') && fs.existsSync(path.join(dataDir, d, 'agent.db')))
        .sort()
    : [];
  if (found.length === 1) return path.join(dataDir, found[0]);
  if (found.length > 1)
    throw new AgentUsageError(
      `several agents keep state in ${dataDir}: ${found.map((d) => d.slice('agent-'.length)).join(', ')}; pick one with --name`,
    );
  return named;
}

function apiUrl(f: CommonFlags, config: AgentConfig): string {
  const url = f.api ?? config.apiUrl;
  if (!/^https?:\/\/[^\s/]+/.test(url))
    throw new AgentUsageError(`--api must be an http(s) URL, got "${url}"`);
  return url;
}

function geometry(f: { input?: string; classes?: string }) {
  return {
    ...(f.input ? { input: parseInputShape(f.input) } : {}),
    ...(f.classes ? { classes: parseClasses(f.classes) } : {}),
  };
}

/** Builds the `edgenas-agent` command line. Actions throw; `main` turns errors into messages and exit codes. */
export function buildCli(io: CliIo, env: AgentConfig): Command {
  const program = new Command('edgenas-agent')
    .description('EdgeNAS device agent: benchmarks blocks and networks with ONNX Runtime and uploads them')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  addBench(
    addCommon(
      program
        .command('run')
        .description('register if needed, then fetch work, benchmark, upload; repeat (or once)')
        .option('--space <list>', 'spaces to cover, comma-separated', 'proxy-28,fbnet-224')
        .option('--once', 'do one pass and exit')
        .option(
          '--no-calibration',
          'skip the calibration work the server hands out (calibration set, reference networks)',
        )
        .option('--interval <seconds>', 'pause between passes', intOption('--interval', 1, 86400), 60),
    ),
  ).action(async (f: RunFlags) => {
    const name = deviceName(f, env);
    const store = AgentStore.open(stateDir(f, env, name));
    try {
      const ctx: AgentContext = {
        store,
        profile: describeDevice(name, f.threads, precision(f, env)),
        apiUrl: apiUrl(f, env),
        apiKey: f.apiKey ?? env.apiKey,
        spaces: resolveSpaces(f.space),
        benchmark: benchOptions(f, env),
        calibrate: f.calibration,
        retry: retry(f),
        log: io.err,
      };
      if (f.once) {
        io.out(describePass(await runPass(ctx)));
        return;
      }
      const stop = new AbortController();
      // Ctrl-C: finish the pass (a second one quits now). SIGTERM (a supervisor stopping us): quit now; every
      // measured chunk is already in the local store, so at most the chunk in progress is lost.
      const onSignal = (signal: NodeJS.Signals) => {
        if (signal === 'SIGTERM' || stop.signal.aborted) {
          store.close();
          process.exit(signal === 'SIGTERM' ? 0 : 130);
        }
        io.err('stopping after this pass (measurements so far are stored); interrupt again to quit now');
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runLoop(ctx, f.interval * 1000, stop.signal);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    } finally {
      store.close();
    }
  });

  addBench(
    addCommon(
      program
        .command('profile')
        .description('offline: benchmark every signature a space can use into a LUT file')
        .requiredOption('--space <name>', 'space (macro config), e.g. fbnet-224')
        .option('--input <HxWxC>', 'deployment input size')
        .option('--classes <n>', 'deployment classes')
        .requiredOption('--out <file>', 'LUT file to write'),
    ),
  ).action(
    async (
      f: CommonFlags & BenchFlags & { space: string; input?: string; classes?: string; out: string },
    ) => {
      const spaces = resolveSpaces(f.space, geometry(f));
      if (spaces.length !== 1) throw new AgentUsageError('profile takes exactly one --space');
      const config = spaces[0];
      const sigs = spaceSignatures(config);
      const profile = describeDevice(deviceName(f, env), f.threads, precision(f, env));
      const options = benchOptions(f, env);
      io.err(
        `profiling ${sigs.length} signatures of ${config.name} with ${f.threads} thread(s) at ${options.precision}`,
      );
      const progress = createProgress('blocks', io.err);
      const blocks = await benchmarkSignatures(sigs, options, {
        onProgress: (d, t, l) => progress.update(d, t, l),
      }).finally(() => progress.stop());
      writeLutFile(f.out, {
        format: LUT_FILE_FORMAT,
        space: config.name,
        profile,
        createdAt: new Date().toISOString(),
        blocks,
      });
      const flagged = blocks.filter((b) => b.driftFlagged).length;
      io.out(
        `wrote ${blocks.length} measurements to ${f.out}${flagged ? ` (${flagged} drift-flagged)` : ''}`,
      );
    },
  );

  addCommon(
    program
      .command('upload')
      .description('upload a LUT file written by `profile` (idempotent: re-uploading adds nothing)')
      .argument('<file>', 'LUT file'),
  ).action(async (file: string, f: CommonFlags) => {
    const lut = readLutFile(file);
    const name = f.name ?? lut.profile.name;
    const store = AgentStore.open(stateDir(f, env, name));
    try {
      const ctx: AgentContext = {
        store,
        profile: { ...lut.profile, name },
        apiUrl: apiUrl(f, env),
        apiKey: f.apiKey ?? env.apiKey,
        spaces: [],
        benchmark: DEFAULT_BENCHMARK_OPTIONS,
        retry: retry(f),
        log: io.err,
      };
      const client = new ApiClient(ctx.apiUrl);
      const device = await ensureDevice(ctx, client);
      const added = store.add(lut.blocks.map((body) => ({ kind: 'block' as const, body })));
      if (!device)
        throw new ApiUnreachableError(
          `cannot reach ${ctx.apiUrl}; ${store.counts().pending} queued, run upload again later`,
        );
      const r = await syncPending(store, client, device, { retry: ctx.retry });
      io.out(
        `${lut.blocks.length} measurements in ${file} (${added} new here): ${r.accepted} accepted, ` +
          `${r.duplicates} already on the server${r.rejected ? `, ${r.rejected} rejected` : ''}`,
      );
    } finally {
      store.close();
    }
  });

  addCommon(
    program
      .command('status')
      .description('show the device, the local queue and (when reachable) LUT coverage')
      .option('--space <list>', 'spaces to report coverage for', 'proxy-28,fbnet-224'),
  ).action(async (f: CommonFlags & { space: string }) => {
    const dir = statusStateDir(f, env);
    if (!fs.existsSync(path.join(dir, 'agent.db'))) {
      io.out(`no agent state in ${dir} (run \`edgenas-agent run\` first)`);
      return;
    }
    const store = AgentStore.open(dir);
    try {
      const device = store.device();
      const c = store.counts();
      io.out(`state:   ${dir}`);
      io.out(
        device ? `device:  ${device.name} (${device.id}) on ${device.apiUrl}` : 'device:  not registered',
      );
      io.out(`queue:   ${c.pending} pending, ${c.synced} synced, ${c.rejected} rejected`);
      const lastError = store.lastError();
      if (lastError) io.out(`last error: ${lastError}`);
      if (!device) return;
      const client = new ApiClient(device.apiUrl, 10_000);
      for (const space of resolveSpaces(f.space)) {
        try {
          const lut = (await client.lut(device.id, device.token, space.name)) as {
            coverage?: { covered: number; total: number };
          };
          const cov = lut.coverage;
          io.out(
            `lut:     ${space.name} ${cov ? `${cov.covered}/${cov.total} signatures` : 'unknown coverage'}`,
          );
        } catch (err) {
          io.out(`lut:     ${space.name} unavailable (${(err as Error).message})`);
        }
      }
    } finally {
      store.close();
    }
  });

  return program;
}

/** Runs the CLI; returns the exit code. Expected failures print one line, never a stack trace. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let config: AgentConfig;
  try {
    config = agentConfig(io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`edgenas-agent: ${err.message}`);
    return 2;
  }
  const program = buildCli(io, config);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ApiError && err.credentialsRefused) {
      io.err(`edgenas-agent: ${err.message} (wrong API key or device token?)`);
    } else {
      io.err(`edgenas-agent: ${(err as Error).message}`);
    }
    return err instanceof AgentUsageError ? 2 : 1;
  }
}
