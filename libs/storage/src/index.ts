// Framework-free SQL storage (Kysely): SQLite by default, PostgreSQL by connection string.
import { DatabaseHandle, openDatabase } from './database';
import { createRepositories, Repositories } from './repositories';

export * from './schema';
export * from './migrations';
export * from './database';
export * from './faults';
export * from './repositories';

export interface Storage extends Repositories {
  readonly handle: DatabaseHandle;
  close(): Promise<void>;
}

/** Opens and migrates the database named by the URL (default `sqlite:.edgenas/edgenas.db`) with its repositories. */
export async function openStorage(url?: string): Promise<Storage> {
  const handle = await openDatabase(url);
  return { ...createRepositories(handle.db, handle.checkWritable), handle, close: () => handle.close() };
}
export * from './device-rows';
