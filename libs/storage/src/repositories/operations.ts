import { sql } from 'kysely';
import { Db } from '../database';

/** Row counts and a round trip, for health checks and metrics (never for business logic). */
export class OperationsRepository {
  constructor(
    private readonly db: Db,
    private readonly writable: () => Promise<void> = async () => undefined,
  ) {}

  /** One round trip to the database; throws when it is unreachable. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Throws a DatabaseUnavailableError when writes cannot succeed (a full disk, a read-only file). */
  async checkWritable(): Promise<void> {
    await this.writable();
  }

  /** Jobs per stored status (statuses with no job are absent). */
  async jobCountsByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll().as('n')])
      .groupBy('status')
      .execute();
    // PostgreSQL returns count(*) as a bigint string.
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Candidates of queued or running jobs, per candidate status. */
  async activeCandidateCountsByStatus(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('candidates')
      .innerJoin('jobs', 'jobs.id', 'candidates.job_id')
      .where('jobs.status', 'in', ['queued', 'running'])
      .select(['candidates.status as status', (eb) => eb.fn.countAll().as('n')])
      .groupBy('candidates.status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
