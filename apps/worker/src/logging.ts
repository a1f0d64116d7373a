/**
 * The worker's logs: JSON lines through pino (human-readable through pino-pretty when asked, as `npm start`
 * does), with Temporal's own runtime logger, its Rust core's logs and the activities' lifecycle in the same
 * stream.
 */
import type { LogConfig, LogLevel } from '@edgenas/config';
import {
  ActivityInterceptorsFactory,
  DefaultLogger,
  LogEntry,
  LogLevel as TemporalLogLevel,
  Runtime,
} from '@temporalio/worker';
import pino, { DestinationStream, Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export interface WorkerLogging extends LogConfig {
  /** Colour pretty lines (ignored for JSON). */
  readonly colour?: boolean;
  /** Where lines go (default stdout); tests pass a stream to read them. */
  readonly destination?: DestinationStream;
}

/** What a console reader does not need on every line (Temporal puts its task token and run id on each). */
const NOT_FOR_PEOPLE = 'pid,hostname,service,taskToken,namespace,workflowRunId,isLocal,sdkComponent';

export function createWorkerLogger(options: WorkerLogging): Logger {
  const destination =
    options.destination ??
    (options.format === 'pretty'
      ? pinoPretty({
          colorize: options.colour ?? false,
          sync: true,
          singleLine: true,
          ignore: NOT_FOR_PEOPLE,
        })
      : // synchronous: the last lines before process.exit are not lost
        pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level,
      base: { service: 'edgenas-worker' },
      // Temporal names an activity's failure `error`; pino serialises only `err` by default
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    destination,
  );
}

const TEMPORAL_TO_PINO: Readonly<Record<TemporalLogLevel, LogLevel>> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

function temporalLevel(level: string): TemporalLogLevel {
  if (level === 'trace') return 'TRACE';
  if (level === 'debug') return 'DEBUG';
  if (level === 'info') return 'INFO';
  if (level === 'warn') return 'WARN';
  return 'ERROR';
}

/** A Temporal logger writing into `logger`: the SDK's, workflows' and activities' lines become pino lines. */
export function temporalLoggerFor(logger: Logger): DefaultLogger {
  return new DefaultLogger(temporalLevel(logger.level), (entry: LogEntry) => {
    logger[TEMPORAL_TO_PINO[entry.level]]({ ...entry.meta }, entry.message);
  });
}

/**
 * Routes Temporal's runtime logger into `logger`, Rust core's warnings and errors included (by default core
 * prints its own plain lines to the console). Once per process, before any connection or worker.
 */
export function installTemporalLogging(logger: Logger): void {
  Runtime.install({
    logger: temporalLoggerFor(logger),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  });
}

function jobIdOf(request: unknown): string | undefined {
  if (request === null || typeof request !== 'object') return undefined;
  const jobId = (request as { jobId?: unknown }).jobId;
  return typeof jobId === 'string' ? jobId : undefined;
}

/**
 * Logs each activity's start and end at info (the SDK logs them at debug only), and adds the job id of its
 * request to every line the activity logs. Temporal's lines carry workflowId, activityId, activityType and
 * attempt already. A failure is logged here and, with its stack, by the SDK ("Activity failed").
 */
export const activityLogging: ActivityInterceptorsFactory = (ctx) => {
  let jobId: string | undefined;
  return {
    inbound: {
      async execute(input, next) {
        jobId = jobIdOf(input.args[0]);
        const started = Date.now();
        ctx.log.info('activity started');
        try {
          const result = await next(input);
          ctx.log.info('activity completed', { durationMs: Date.now() - started });
          return result;
        } catch (err) {
          const durationMs = Date.now() - started;
          if (ctx.cancellationSignal.aborted) ctx.log.info('activity cancelled', { durationMs });
          else
            ctx.log.warn('activity failed', {
              durationMs,
              error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
            });
          throw err;
        }
      },
    },
    outbound: {
      getLogAttributes: (attributes, next) =>
        next(jobId === undefined ? attributes : { ...attributes, jobId }),
    },
  };
};
