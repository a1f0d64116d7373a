import { JobStatus, NasJobInput, NasJobResult } from '@edgenas/contracts';
import { Db } from '../database';
import { JobsTable } from '../schema';
import { fromJson, nowIso, toJson } from './json';

export interface JobRecord {
  readonly id: string;
  readonly input: NasJobInput;
  readonly status: JobStatus;
  readonly result: NasJobResult | null;
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

function toRecord(r: JobsTable): JobRecord {
  return {
    id: r.id,
    input: fromJson<NasJobInput>(r.input_json),
    status: r.status as JobStatus,
    result: fromJson<NasJobResult>(r.result_json),
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class JobRepository {
  constructor(private readonly db: Db) {}

  /** Creates the job row (id = input.jobId); a second create with the same id is a no-op. */
  async create(input: NasJobInput, status: JobStatus = 'queued'): Promise<JobRecord> {
    const now = nowIso();
    await this.db
      .insertInto('jobs')
      .values({
        id: input.jobId,
        input_json: toJson(input),
        status,
        result_json: null,
        error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const job = await this.get(input.jobId);
    if (!job) throw new Error(`job ${input.jobId} vanished after insert`);
    return job;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Newest first. */
  async list(options: { limit?: number; status?: JobStatus } = {}): Promise<JobRecord[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (options.status) q = q.where('status', '=', options.status);
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Moves a job to a status, with its result or error. A terminal status is final: later calls (a replayed
   * activity, a late cancel) do not overwrite it. Returns whether the row changed.
   */
  async setStatus(
    id: string,
    status: JobStatus,
    extra: { result?: NasJobResult; error?: string } = {},
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('jobs')
      .set({
        status,
        updated_at: nowIso(),
        ...(extra.result !== undefined ? { result_json: toJson(extra.result) } : {}),
        ...(extra.error !== undefined ? { error: extra.error } : {}),
      })
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL_JOB_STATUSES)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Removes a job row whose workflow could not be started (still queued, nothing recorded), so a refused
   * create leaves nothing behind. A started job is never deleted.
   */
  async deleteUnstarted(id: string): Promise<void> {
    await this.db.deleteFrom('jobs').where('id', '=', id).where('status', '=', 'queued').execute();
  }

  /** Jobs still queued or running (their deployment geometries need LUT entries). */
  async listActive(): Promise<JobRecord[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', 'in', ['queued', 'running'])
      .orderBy('created_at')
      .execute();
    return rows.map(toRecord);
  }
}
