import { Db } from '../database';
import { CandidatesTable } from '../schema';
import { fromJson, JsonValue, nowIso, toJson } from './json';

/**
 * proposed → (over-budget | trained | scored | failed). `trained`: proxy-trained stand-alone (accuracy = its
 * validation top-1); `scored`: scored with inherited supernet weights (accuracy = the supernet score).
 */
export type CandidateStatus = 'proposed' | 'over-budget' | 'trained' | 'scored' | 'failed';
export const CANDIDATE_STATUSES: readonly CandidateStatus[] = [
  'proposed',
  'over-budget',
  'trained',
  'scored',
  'failed',
];

export interface CandidateRecord {
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly generation: number;
  readonly status: CandidateStatus;
  readonly accuracy: number | null;
  /** Worst predicted latency over the job's devices, ms. */
  readonly predictedLatencyMs: number | null;
  readonly predictedLatencyByDevice: Readonly<Record<string, number>> | null;
  readonly measuredLatencyByDevice: Readonly<Record<string, number>> | null;
  readonly macs: number | null;
  readonly params: number | null;
  /** The proxy-training (or scoring) result as the trainer returned it (curve, backend, wall time, …). */
  readonly training: JsonValue | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Fields left undefined keep their stored value on update (null clears). */
export interface CandidateUpsert {
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly generation: number;
  readonly status: CandidateStatus;
  readonly accuracy?: number | null;
  readonly predictedLatencyMs?: number | null;
  readonly predictedLatencyByDevice?: Readonly<Record<string, number>> | null;
  readonly measuredLatencyByDevice?: Readonly<Record<string, number>> | null;
  readonly macs?: number | null;
  readonly params?: number | null;
  readonly training?: JsonValue | null;
}

function toRecord(r: CandidatesTable): CandidateRecord {
  return {
    jobId: r.job_id,
    architectureId: r.architecture_id,
    architecture: r.architecture,
    generation: r.generation,
    status: r.status as CandidateStatus,
    accuracy: r.accuracy,
    predictedLatencyMs: r.predicted_latency_ms,
    predictedLatencyByDevice: fromJson<Record<string, number>>(r.predicted_json),
    measuredLatencyByDevice: fromJson<Record<string, number>>(r.measured_json),
    macs: r.macs,
    params: r.params,
    training: fromJson<JsonValue>(r.training_json),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function optionalJson(v: unknown): string | null | undefined {
  return v === undefined ? undefined : v === null ? null : toJson(v);
}

export class CandidateRepository {
  constructor(private readonly db: Db) {}

  /**
   * Idempotent by (job, architecture id): the first call inserts, later calls update the given fields. The
   * generation of first proposal is kept. Returns the stored record.
   */
  async upsert(c: CandidateUpsert): Promise<CandidateRecord> {
    const now = nowIso();
    const optional = {
      accuracy: c.accuracy,
      predicted_latency_ms: c.predictedLatencyMs,
      predicted_json: optionalJson(c.predictedLatencyByDevice),
      measured_json: optionalJson(c.measuredLatencyByDevice),
      macs: c.macs,
      params: c.params,
      training_json: optionalJson(c.training),
    };
    const given = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<
      Pick<CandidatesTable, keyof typeof optional>
    >;
    await this.db
      .insertInto('candidates')
      .values({
        job_id: c.jobId,
        architecture_id: c.architectureId,
        architecture: c.architecture,
        generation: c.generation,
        status: c.status,
        accuracy: null,
        predicted_latency_ms: null,
        predicted_json: null,
        measured_json: null,
        macs: null,
        params: null,
        training_json: null,
        ...given,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['job_id', 'architecture_id'])
          .doUpdateSet({ status: c.status, ...given, updated_at: now }),
      )
      .execute();
    const stored = await this.get(c.jobId, c.architectureId);
    if (!stored) throw new Error(`candidate ${c.jobId}/${c.architectureId} vanished after upsert`);
    return stored;
  }

  async get(jobId: string, architectureId: string): Promise<CandidateRecord | undefined> {
    const row = await this.db
      .selectFrom('candidates')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('architecture_id', '=', architectureId)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /** In proposal order (generation, then insertion time). */
  async list(jobId: string, options: { status?: CandidateStatus } = {}): Promise<CandidateRecord[]> {
    let q = this.db.selectFrom('candidates').selectAll().where('job_id', '=', jobId);
    if (options.status) q = q.where('status', '=', options.status);
    const rows = await q.orderBy('generation').orderBy('created_at').orderBy('architecture_id').execute();
    return rows.map(toRecord);
  }

  async count(jobId: string, status?: CandidateStatus): Promise<number> {
    let q = this.db
      .selectFrom('candidates')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('job_id', '=', jobId);
    if (status) q = q.where('status', '=', status);
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Records one device's end-to-end measured latency beside the prediction (merging other devices'). */
  async recordMeasuredLatency(
    jobId: string,
    architectureId: string,
    deviceId: string,
    ms: number,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Write first, read after: the update locks the row until commit, so another device's result recorded
      // at the same time waits and merges into this one (PostgreSQL would otherwise let both read the same
      // JSON and the later write drop the earlier device; SQLite serialises writers anyway).
      const touched = await trx
        .updateTable('candidates')
        .set({ updated_at: nowIso() })
        .where('job_id', '=', jobId)
        .where('architecture_id', '=', architectureId)
        .executeTakeFirst();
      if (Number(touched.numUpdatedRows) === 0)
        throw new Error(`no candidate ${architectureId} in job ${jobId}`);
      const row = await trx
        .selectFrom('candidates')
        .select('measured_json')
        .where('job_id', '=', jobId)
        .where('architecture_id', '=', architectureId)
        .executeTakeFirstOrThrow();
      const measured = { ...(fromJson<Record<string, number>>(row.measured_json) ?? {}), [deviceId]: ms };
      await trx
        .updateTable('candidates')
        .set({ measured_json: toJson(measured) })
        .where('job_id', '=', jobId)
        .where('architecture_id', '=', architectureId)
        .execute();
    });
  }
}
