import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CalibrationPolicy } from '@edgenas/latency-predictor';
import { Repositories } from '@edgenas/storage';
import { ApiKeySet, AuthGuard } from './auth/auth';
import { RateLimit, RateLimitGuard, rateLimitModule } from './auth/rate-limit';
import { ApiExceptionFilter } from './common/exception.filter';
import { DatasetsController } from './datasets/datasets.controller';
import { DevicesController } from './devices/devices.controller';
import { FinalModelsController } from './final-models/final-models.controller';
import { FinalModelsService } from './final-models/final-models.service';
import { HealthController } from './health/health.controller';
import { JobWorkflows } from './jobs/job-workflows';
import { JobsController } from './jobs/jobs.controller';
import { JobsService } from './jobs/jobs.service';
import { KeysModule } from './keys/keys.module';
import { DevicePredictors } from './latency/device-predictors';
import { LatencyController } from './latency/latency.controller';
import { LatencyRangeController } from './latency/latency-range.controller';
import { LutController } from './lut/lut.controller';
import { MeasurementsController } from './measurements/measurements.controller';
import { ApiLogging, apiLoggerModule } from './operations/logging';
import { OperationsModule } from './operations/operations.module';
import { UiController } from './ui/ui.controller';
import { API_KEYS, CALIBRATION_POLICY, DATASET_ROOTS, JOB_WORKFLOWS, REPOSITORIES } from './tokens';

export interface CoreDeps {
  readonly repositories: Repositories;
  readonly apiKeys: ApiKeySet;
  readonly workflows: JobWorkflows;
  /** When reference networks are due and calibrations stale. */
  readonly calibrationPolicy: CalibrationPolicy;
  /** Absolute dataset roots: image-folder datasets must lie under them; uploads go to the first. */
  readonly datasetRoots: readonly string[];
  /** Run when the app closes (database, Temporal connection). */
  readonly onClose: () => Promise<void>;
  /** JSON request/app logs through pino; absent: Nest's console logger. */
  readonly logging?: ApiLogging;
  /** Requests per window per API key, device token or (without credentials) client address. */
  readonly rateLimit: RateLimit;
}

const ON_CLOSE = Symbol('OnClose');

class Closer implements OnApplicationShutdown {
  constructor(@Inject(ON_CLOSE) private readonly onClose: () => Promise<void>) {}
  async onApplicationShutdown(): Promise<void> {
    await this.onClose();
  }
}

/**
 * What every feature module shares: storage, device predictors, user API keys, the Temporal gateway, auth, rate
 * limits and error handling.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(deps: CoreDeps): DynamicModule {
    return {
      module: CoreModule,
      imports: [rateLimitModule(deps.rateLimit)],
      providers: [
        { provide: REPOSITORIES, useValue: deps.repositories },
        { provide: API_KEYS, useValue: deps.apiKeys },
        { provide: JOB_WORKFLOWS, useValue: deps.workflows },
        { provide: CALIBRATION_POLICY, useValue: deps.calibrationPolicy },
        { provide: DATASET_ROOTS, useValue: deps.datasetRoots },
        DevicePredictors,
        { provide: ON_CLOSE, useValue: deps.onClose },
        Closer,
        RateLimitGuard,
        // in this order: the rate limit counts against the caller AuthGuard named
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
      ],
      exports: [REPOSITORIES, API_KEYS, JOB_WORKFLOWS, DATASET_ROOTS, DevicePredictors],
    };
  }
}

@Module({ controllers: [HealthController] })
export class HealthModule {}

@Module({ controllers: [DevicesController] })
export class DevicesModule {}

@Module({ controllers: [MeasurementsController] })
export class MeasurementsModule {}

@Module({ controllers: [LutController, LatencyController, LatencyRangeController] })
export class LatencyModule {}

@Module({ controllers: [JobsController], providers: [JobsService] })
export class JobsModule {}

@Module({ controllers: [FinalModelsController], providers: [FinalModelsService] })
export class FinalModelsModule {}

@Module({ controllers: [UiController] })
export class UiModule {}

@Module({ controllers: [DatasetsController] })
export class DatasetsModule {}

@Module({})
export class AppModule {
  static forRoot(deps: CoreDeps): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(deps),
        HealthModule,
        DevicesModule,
        KeysModule,
        MeasurementsModule,
        LatencyModule,
        JobsModule,
        DatasetsModule,
        FinalModelsModule,
        OperationsModule,
        UiModule,
        ...(deps.logging ? [apiLoggerModule(deps.logging)] : []),
      ],
    };
  }
}
