// Framework-free SQL storage (Kysely): SQLite by default, PostgreSQL by connection string.
import { DatabaseHandle, openDatabase } from './database';
import {
  CandidateRepository,
  DeviceRepository,
  JobRepository,
  MeasurementRepository,
  ModelRepository,
  VerificationRepository,
} from './repositories';
import { Db } from './database';

export * from './schema';
export * from './migrations';
export * from './database';
export * from './repositories';

export interface Repositories {
  readonly devices: DeviceRepository;
  readonly measurements: MeasurementRepository;
  readonly jobs: JobRepository;
  readonly candidates: CandidateRepository;
  readonly models: ModelRepository;
  readonly verifications: VerificationRepository;
}

export function createRepositories(db: Db): Repositories {
  return {
    devices: new DeviceRepository(db),
    measurements: new MeasurementRepository(db),
    jobs: new JobRepository(db),
    candidates: new CandidateRepository(db),
    models: new ModelRepository(db),
    verifications: new VerificationRepository(db),
  };
}

export interface Storage extends Repositories {
  readonly handle: DatabaseHandle;
  close(): Promise<void>;
}

/** Opens and migrates the database named by the URL (default `sqlite:.edgenas/edgenas.db`) with its repositories. */
export async function openStorage(url?: string): Promise<Storage> {
  const handle = await openDatabase(url);
  return { ...createRepositories(handle.db), handle, close: () => handle.close() };
}
