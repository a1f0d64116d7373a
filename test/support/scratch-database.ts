import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';

export interface ScratchDatabase {
  /** DATABASE_URL for the app under test. */
  readonly url: string;
  /** Drops the database (PostgreSQL); a SQLite file goes with its temp dir. */
  drop(): Promise<void>;
}

/**
 * The database a suite's stack runs on: a SQLite file in `dir`, or, with POSTGRES_TEST_URL set (a role that
 * may create databases), a fresh PostgreSQL database of its own, so suites running in parallel never share
 * rows.
 */
export async function createScratchDatabase(dir: string): Promise<ScratchDatabase> {
  const adminUrl = process.env.POSTGRES_TEST_URL;
  if (!adminUrl) return { url: `sqlite:${join(dir, 'edgenas.db')}`, drop: async () => undefined };
  const name = `edgenas_e2e_${randomUUID().replace(/-/g, '')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a worker killed mid-test may leave connections behind.
    drop: () => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function withClient(url: string, use: (c: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await use(client);
  } finally {
    await client.end();
  }
}
