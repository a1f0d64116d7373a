import 'reflect-metadata';
import { join, resolve } from 'node:path';
import { INestApplication, LogLevel, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { CalibrationPolicy, DEFAULT_CALIBRATION_POLICY } from '@edgenas/latency-predictor';
import { CONFIG_DEFAULTS } from '@edgenas/config';
import { DEFAULT_DATABASE_URL, Storage, createRepositories, openStorage } from '@edgenas/storage';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ApiKeySet } from './auth/auth';
import { RateLimit } from './auth/rate-limit';
import { createValidationPipe } from './common/validation';
import { JobWorkflows, TemporalJobWorkflows, TemporalOptions } from './jobs/job-workflows';
import { ApiLogging, requestIdMiddleware } from './operations/logging';
import { ApiMetrics } from './operations/metrics';

export interface ApiAppOptions {
  /** `sqlite:<file>` (default `sqlite:.edgenas/edgenas.db`) or `postgres://…`; ignored when `storage` is given. */
  readonly databaseUrl?: string;
  /** An open storage (not closed by the app). */
  readonly storage?: Storage;
  /** User API keys (at least one). */
  readonly apiKeys: readonly string[];
  /** Temporal address/namespace, or a ready client; or a `JobWorkflows` implementation. */
  readonly temporal?: TemporalOptions;
  readonly workflows?: JobWorkflows;
  /** Data folder (default `.edgenas`): the default dataset root is `<dataDir>/datasets`. */
  readonly dataDir?: string;
  /**
   * Dataset roots (EDGENAS_DATASETS_DIR): image-folder datasets of jobs must lie under them (symbolic links
   * resolved), relative paths resolve against the first, uploads go to the first. Default `<dataDir>/datasets`.
   */
  readonly datasetsDirs?: readonly string[];
  /** Nest log levels, or false for none (ignored when `logging` is given). */
  readonly logger?: false | LogLevel[];
  /** JSON logs through pino, with a request id per request (echoed as `x-request-id`). */
  readonly logging?: ApiLogging;
  /** When agents re-measure reference networks and calibrations turn stale (default: every 30 min). */
  readonly calibrationPolicy?: CalibrationPolicy;
  /** JSON body limit (a full measurement batch is well under this). */
  readonly bodyLimit?: string;
  /**
   * Requests per window per API key, device token or (without credentials) client address; default
   * EDGENAS_RATE_LIMIT_PER_MINUTE's default per minute. Health routes and /metrics are not limited.
   */
  readonly rateLimit?: RateLimit;
}

/**
 * The configured API (routes under /v1, OpenAPI at /docs), not yet listening: call `listen(port)`, or use
 * `getHttpServer()` in tests. `close()` releases the database and Temporal connection it opened.
 */
export async function createApiApp(options: ApiAppOptions): Promise<INestApplication> {
  const apiKeys = new ApiKeySet(options.apiKeys);
  if (apiKeys.size === 0) throw new Error('createApiApp needs at least one user API key');
  if (options.rateLimit && !(options.rateLimit.limit >= 1 && options.rateLimit.windowMs >= 1)) {
    throw new Error('createApiApp: rateLimit needs a limit and a window of at least 1');
  }
  const ownsStorage = options.storage === undefined;
  const storage = options.storage ?? (await openStorage(options.databaseUrl ?? DEFAULT_DATABASE_URL));
  const workflows = options.workflows ?? TemporalJobWorkflows.create(options.temporal);
  const ownsWorkflows = options.workflows === undefined;
  const onClose = async () => {
    if (ownsWorkflows) await workflows.close();
    if (ownsStorage) await storage.close();
  };
  // with pino, Nest's own start-up chatter (modules, routes) stays below the default level
  const logger = options.logger ?? (options.logging ? ['error', 'warn'] : ['error', 'warn', 'log']);
  // applied globally too: Nest logs its start-up before the per-app option takes effect
  Logger.overrideLogger(logger);
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      AppModule.forRoot({
        repositories: createRepositories(storage.handle.db, storage.handle.checkWritable),
        apiKeys,
        workflows,
        calibrationPolicy: options.calibrationPolicy ?? DEFAULT_CALIBRATION_POLICY,
        datasetRoots: (
          options.datasetsDirs ?? [join(options.dataDir ?? CONFIG_DEFAULTS.dataDir, 'datasets')]
        ).map((d) => resolve(d)),
        onClose,
        logging: options.logging,
        rateLimit: options.rateLimit ?? { limit: CONFIG_DEFAULTS.rateLimitPerMinute, windowMs: 60_000 },
      }),
      { logger, bodyParser: false },
    );
  } catch (err) {
    await onClose();
    throw err;
  }
  // first: error bodies and logs name the request by this id
  app.use(requestIdMiddleware);
  app.use(app.get(ApiMetrics).httpTimer());
  app.useBodyParser('json', { limit: options.bodyLimit ?? '8mb' });
  app.useGlobalPipes(createValidationPipe());
  const docs = new DocumentBuilder()
    .setTitle('EdgeNAS API')
    .setDescription(
      'Hardware-aware NAS: devices and their latency LUTs, measurements from device agents, latency ' +
        'prediction, NAS jobs. Authorization: Bearer <user API key>, or a device token on agent routes.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, docs));
  await app.init();
  // after init: route-mapping chatter stays with Nest's logger, below its error/warn levels
  if (options.logging) app.useLogger(app.get(PinoNestLogger));
  return app;
}
