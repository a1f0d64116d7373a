#!/usr/bin/env node
/**
 * EdgeNAS worker: serves the job workflow and its activities on Temporal.
 *   node dist/apps/worker/src/main.js [--queues light,training] [--training-concurrency N]
 * Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL, EDGENAS_DATA_DIR, EDGENAS_DATASETS_DIR,
 * EDGENAS_CALIBRATION_REFRESH_MINUTES, EDGENAS_LOG_LEVEL (pino level, default info) and EDGENAS_LOG_FORMAT
 * (`json`, the default: one JSON object a line on stdout; or `pretty`).
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import { WorkerConfig, workerConfig } from '@edgenas/config';
import { calibrationPolicyFromMinutes } from '@edgenas/latency-predictor';
import { DEFAULT_DATABASE_URL, openDatabase } from '@edgenas/storage';
import { createWorkerLogger, installTemporalLogging } from './logging';
import { QUEUE_NAMES, QueueName, createWorkers, defaultTrainingConcurrency, runWorkers } from './worker';

function parseQueues(value: string): QueueName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(QUEUE_NAMES as string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown queue ${unknown.map((u) => `"${u}"`).join(', ') || '(none)'}; choose from ${QUEUE_NAMES.join(', ')}`,
    );
  }
  return [...new Set(names)] as QueueName[];
}

function parsePositiveInt(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be an integer ≥ 1, got "${value}"`);
    return n;
  };
}

interface WorkerFlags {
  readonly queues: QueueName[];
  readonly trainingConcurrency: number;
  readonly verificationTimeout: number;
  readonly finalVerificationTimeout?: number;
  readonly supernetCheckpointInterval: number;
  readonly finalCheckpointInterval: number;
}

/** Exit code: 0 after a clean shutdown, 1 when the worker cannot start or stops on an error. */
async function main(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('edgenas-worker')
    .description('EdgeNAS Temporal worker (NAS job workflows, latency, training, ONNX export, verification)')
    .addOption(
      new Option('--queues <names>', `task queues to serve, comma-separated (${QUEUE_NAMES.join(', ')})`)
        .argParser(parseQueues)
        .default([...QUEUE_NAMES], QUEUE_NAMES.join(',')),
    )
    .addOption(
      new Option('--training-concurrency <n>', 'proxy trainings at once, each in its own process')
        .argParser(parsePositiveInt('--training-concurrency'))
        .default(defaultTrainingConcurrency(), `cores - 1, at least 1: ${defaultTrainingConcurrency()} here`),
    )
    .addOption(
      new Option(
        '--verification-timeout <seconds>',
        'how long a finished job waits for agents to measure its front',
      )
        .argParser(parsePositiveInt('--verification-timeout'))
        .default(120),
    )
    .addOption(
      new Option(
        '--final-verification-timeout <seconds>',
        "how long a final training waits for agents to measure its files (default: --verification-timeout's)",
      ).argParser(parsePositiveInt('--final-verification-timeout')),
    )
    .addOption(
      new Option(
        '--supernet-checkpoint-interval <seconds>',
        'how often supernet training writes a checkpoint (a lost worker resumes from the last one)',
      )
        .argParser(parsePositiveInt('--supernet-checkpoint-interval'))
        .default(20),
    )
    .addOption(
      new Option(
        '--final-checkpoint-interval <seconds>',
        'how often final training writes a checkpoint (a lost worker resumes from the last one)',
      )
        .argParser(parsePositiveInt('--final-checkpoint-interval'))
        .default(20),
    )
    .parse(argv);
  const opts = program.opts<WorkerFlags>();

  let config: WorkerConfig;
  try {
    config = workerConfig(process.env);
  } catch (err) {
    // no logger yet: how to log is part of the configuration
    console.error(`edgenas worker: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const logger = createWorkerLogger({ ...config.log, colour: process.env.NO_COLOR === undefined });
  installTemporalLogging(logger);
  try {
    await serve(opts, config, logger);
    logger.info('worker stopped');
    return 0;
  } catch (err) {
    logger.fatal({ err }, `worker stopped: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

async function serve(opts: WorkerFlags, config: WorkerConfig, logger: Logger): Promise<void> {
  const { address, namespace } = config.temporal;
  const dataDir = resolve(config.dataDir);
  const datasetRoots = config.datasetsDirs.map((d) => resolve(d));
  const calibrationPolicy = calibrationPolicyFromMinutes(config.calibrationRefreshMinutes);
  const database = await openDatabase(config.databaseUrl ?? DEFAULT_DATABASE_URL);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address });
  } catch (err) {
    await database.close();
    throw new Error(
      `cannot reach Temporal at ${address} (${err instanceof Error ? err.message : String(err)}); ` +
        'start one with `temporal server start-dev` or set TEMPORAL_ADDRESS',
    );
  }
  try {
    const workers = await createWorkers({
      connection,
      namespace,
      queues: opts.queues,
      trainingConcurrency: opts.trainingConcurrency,
      deps: {
        db: database.db,
        dataDir,
        datasetRoots,
        verificationTimeoutMs: opts.verificationTimeout * 1000,
        ...(opts.finalVerificationTimeout !== undefined
          ? { finalVerificationTimeoutMs: opts.finalVerificationTimeout * 1000 }
          : {}),
        supernetCheckpointIntervalMs: opts.supernetCheckpointInterval * 1000,
        finalCheckpointIntervalMs: opts.finalCheckpointInterval * 1000,
        calibrationPolicy,
      },
    });
    logger.info(
      {
        temporal: `${address}/${namespace}`,
        queues: opts.queues,
        trainingConcurrency: opts.trainingConcurrency,
        database: database.location,
      },
      'worker started',
    );
    // The Temporal runtime shuts the workers down on SIGINT/SIGTERM; in-flight activities are cancelled.
    await runWorkers(workers);
  } finally {
    await connection.close();
    await database.close();
  }
}

void main(process.argv).then((code) => process.exit(code));
