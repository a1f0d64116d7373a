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
    drop: () =>
      withClient(adminUrl, async (c) => {
        // A worker killed mid-test may leave sessions behind. Not WITH (FORCE): that also has to end autovacuum
        // (busy after the supernet suites' large writes), which only a superuser or pg_signal_backend may; a
        // plain DROP stops autovacuum itself.
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()',
          [name],
        );
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
      }),
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
