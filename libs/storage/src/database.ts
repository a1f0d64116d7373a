import { constants, mkdirSync } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  DatabaseConnection,
  Driver,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { Pool } from 'pg';
import { DatabaseUnavailableError, databaseFault } from './faults';
import { migrateToLatest, SqlDialectName } from './migrations';
import { EdgeNasDatabase } from './schema';

export const DEFAULT_DATABASE_URL = 'sqlite:.edgenas/edgenas.db';

export type Db = Kysely<EdgeNasDatabase>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly dialect: SqlDialectName;
  /** Where the data lives, without credentials (for logs). */
  readonly location: string;
  /**
   * Throws a DatabaseUnavailableError when writes cannot succeed although reads do: for a SQLite file, less than
   * MIN_FREE_BYTES free on its disk, or the file or its folder not writable. Cheap (no write, no lock).
   */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/** Below this much free space on a SQLite file's disk, the database counts as full (a batch needs room). */
export const MIN_FREE_BYTES = 1024 * 1024;

export interface ParsedDatabaseUrl {
  readonly dialect: SqlDialectName;
  /** File path (sqlite, relative to the cwd unless absolute; ':memory:' allowed) or the connection string. */
  readonly target: string;
}

/** `sqlite:<path>` / `sqlite://<path>` or `postgres://…` / `postgresql://…`; throws naming what is accepted. */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', target: url };
  const m = /^sqlite:(?:\/\/)?(.+)$/.exec(url);
  if (m) return { dialect: 'sqlite', target: m[1] };
  throw new Error(
    `DATABASE_URL "${redact(url)}" is not supported: use sqlite:<file path> or postgres://user:pass@host/db`,
  );
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * Opens the database named by the URL (creating the SQLite file's folder) and migrates it to the latest
 * schema. The caller owns the handle and closes it.
 */
export async function openDatabase(url: string = DEFAULT_DATABASE_URL): Promise<DatabaseHandle> {
  const parsed = parseDatabaseUrl(url);
  let db: Db;
  let location: string;
  let checkWritable = async (): Promise<void> => undefined;
  if (parsed.dialect === 'sqlite') {
    const file = parsed.target === ':memory:' ? ':memory:' : resolve(parsed.target);
    location = `sqlite:${file}`;
    if (file !== ':memory:') checkWritable = () => checkSqliteWritable(file);
    let sqlite: BetterSqlite3.Database | undefined;
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      sqlite = new BetterSqlite3(file);
      // WAL lets the API and the worker (two processes) read while the other writes.
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('busy_timeout = 5000');
      sqlite.pragma('foreign_keys = ON');
    } catch (err) {
      sqlite?.close();
      throw await openFailure(location, err, checkWritable);
    }
    db = new Kysely<EdgeNasDatabase>({
      dialect: new SqliteDialectKeepingErrors({ database: sqlite }, sqlite),
    });
  } else {
    db = new Kysely<EdgeNasDatabase>({
      dialect: new PostgresDialect({ pool: new Pool({ connectionString: parsed.target, max: 10 }) }),
    });
    location = redact(parsed.target);
  }
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, parsed.dialect);
  } catch (err) {
    await db.destroy();
    throw await openFailure(location, err, checkWritable);
  }
  return { db, dialect: parsed.dialect, location, checkWritable, close: () => db.destroy() };
}

/**
 * Why the database at `location` could not be opened, said plainly: SQLite's own words for a read-only or full
 * disk are often just "unable to open database file", so the file system is asked. Other errors pass unchanged.
 */
async function openFailure(
  location: string,
  err: unknown,
  checkWritable: () => Promise<void>,
): Promise<unknown> {
  const fault = databaseFault(err);
  if (!fault) return err;
  const message = err instanceof Error ? err.message : String(err);
  try {
    await checkWritable();
  } catch (cause) {
    if (cause instanceof DatabaseUnavailableError) {
      return new DatabaseUnavailableError(
        cause.kind,
        `cannot open ${location}: ${cause.detail} (${message})`,
      );
    }
  }
  return new DatabaseUnavailableError(fault.kind, `cannot open ${location}: ${message}`);
}

/**
 * SQLite rolls a transaction back by itself on some errors (a full disk, an I/O error); Kysely's ROLLBACK after
 * that fails with "cannot rollback - no transaction is active", which would replace the error that says what
 * happened. This driver rolls back only a transaction that is still open.
 */
class SqliteDriverKeepingErrors extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
  ) {
    super(config);
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

class SqliteDialectKeepingErrors extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly sqlite: BetterSqlite3.Database,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new SqliteDriverKeepingErrors(this.config, this.sqlite);
  }
}

async function checkSqliteWritable(file: string): Promise<void> {
  const folder = dirname(file);
  const disk = await statfs(folder);
  const free = disk.bavail * disk.bsize;
  if (free < MIN_FREE_BYTES) {
    throw new DatabaseUnavailableError('disk-full', `${free} bytes free on the disk holding ${file}`);
  }
  // SQLite writes the file and, beside it, its -wal and -shm files
  for (const path of [file, folder]) {
    try {
      await access(path, constants.W_OK);
    } catch (err) {
      if (path === file && (err as NodeJS.ErrnoException).code === 'ENOENT') continue; // created on first write
      throw new DatabaseUnavailableError('read-only', `${path} is not writable (${(err as Error).message})`);
    }
  }
}
