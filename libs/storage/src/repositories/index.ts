import { Db } from '../database';
import { ApiKeyRepository } from './api-keys';
import { CandidateRepository } from './candidates';
import { DeviceRepository } from './devices';
import { FinalModelRepository } from './final-models';
import { JobRepository } from './jobs';
import { MeasurementRepository } from './measurements';
import { ModelRepository } from './models';
import { OperationsRepository } from './operations';
import { StandaloneTrainingRepository } from './standalone-trainings';
import { TrainingCheckpointRepository } from './training-checkpoints';
import { SupernetRepository } from './supernets';
import { VerificationRepository } from './verifications';

export * from './json';
export * from './devices';
export * from './measurements';
export * from './jobs';
export * from './candidates';
export * from './models';
export * from './verifications';
export * from './standalone-trainings';
export * from './operations';
export * from './supernets';
export * from './final-models';
export * from './api-keys';
export * from './training-checkpoints';

export interface Repositories {
  readonly devices: DeviceRepository;
  readonly measurements: MeasurementRepository;
  readonly jobs: JobRepository;
  readonly candidates: CandidateRepository;
  readonly models: ModelRepository;
  readonly verifications: VerificationRepository;
  readonly standaloneTrainings: StandaloneTrainingRepository;
  readonly operations: OperationsRepository;
  readonly supernets: SupernetRepository;
  readonly finalModels: FinalModelRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly trainingCheckpoints: TrainingCheckpointRepository;
}

/** `checkWritable`: the database handle's (see DatabaseHandle), for readiness checks. */
export function createRepositories(db: Db, checkWritable?: () => Promise<void>): Repositories {
  return {
    devices: new DeviceRepository(db),
    measurements: new MeasurementRepository(db),
    jobs: new JobRepository(db),
    candidates: new CandidateRepository(db),
    models: new ModelRepository(db),
    verifications: new VerificationRepository(db),
    standaloneTrainings: new StandaloneTrainingRepository(db),
    operations: new OperationsRepository(db, checkWritable),
    supernets: new SupernetRepository(db),
    finalModels: new FinalModelRepository(db),
    apiKeys: new ApiKeyRepository(db),
    trainingCheckpoints: new TrainingCheckpointRepository(db),
  };
}
