import { Db } from '../database';
import { StandaloneTrainingsTable } from '../schema';
import { fromJson, JsonValue, nowIso, toJson } from './json';

/** Why an architecture was retrained stand-alone: a search finalist or a hand-designed baseline. */
export type StandaloneTrainingPurpose = 'finalist' | 'baseline';
export const STANDALONE_TRAINING_PURPOSES: readonly StandaloneTrainingPurpose[] = ['finalist', 'baseline'];

/** One stand-alone training from scratch of one architecture with one seed. */
export interface StandaloneTrainingRecord {
  readonly jobId: string;
  readonly architectureId: string;
  /** Compact architecture string. */
  readonly architecture: string;
  readonly seed: number;
  readonly purpose: StandaloneTrainingPurpose;
  /** Baseline name (e.g. `mobilenetv2-like`) when purpose is `baseline`. */
  readonly baseline: string | null;
  /** Validation top-1. */
  readonly accuracy: number;
  /** The training result as the trainer returned it (curve, backend, wall time, …). */
  readonly training: JsonValue | null;
  readonly createdAt: string;
}

export type StandaloneTrainingUpsert = Omit<
  StandaloneTrainingRecord,
  'createdAt' | 'baseline' | 'training'
> & {
  readonly baseline?: string | null;
  readonly training?: JsonValue | null;
};

function toRecord(r: StandaloneTrainingsTable): StandaloneTrainingRecord {
  return {
    jobId: r.job_id,
    architectureId: r.architecture_id,
    architecture: r.architecture,
    seed: r.seed,
    purpose: r.purpose as StandaloneTrainingPurpose,
    baseline: r.baseline,
    accuracy: r.accuracy,
    training: fromJson<JsonValue>(r.training_json),
    createdAt: r.created_at,
  };
}

/** Stand-alone retrainings of finalists and baselines, keyed by (job, architecture id, seed, purpose). */
export class StandaloneTrainingRepository {
  constructor(private readonly db: Db) {}

  /**
   * Idempotent by key: the first call inserts, a repeated call (a retried activity) replaces the result and
   * keeps the creation time. Returns the stored record.
   */
  async upsert(t: StandaloneTrainingUpsert): Promise<StandaloneTrainingRecord> {
    const values = {
      architecture: t.architecture,
      baseline: t.baseline ?? null,
      accuracy: t.accuracy,
      training_json: t.training === undefined || t.training === null ? null : toJson(t.training),
    };
    await this.db
      .insertInto('standalone_trainings')
      .values({
        job_id: t.jobId,
        architecture_id: t.architectureId,
        seed: t.seed,
        purpose: t.purpose,
        ...values,
        created_at: nowIso(),
      })
      .onConflict((oc) => oc.columns(['job_id', 'architecture_id', 'seed', 'purpose']).doUpdateSet(values))
      .execute();
    const stored = await this.get(t.jobId, t.architectureId, t.seed, t.purpose);
    if (!stored)
      throw new Error(`standalone training ${t.jobId}/${t.architectureId}/${t.seed} vanished after upsert`);
    return stored;
  }

  async get(
    jobId: string,
    architectureId: string,
    seed: number,
    purpose: StandaloneTrainingPurpose,
  ): Promise<StandaloneTrainingRecord | undefined> {
    const row = await this.db
      .selectFrom('standalone_trainings')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('architecture_id', '=', architectureId)
      .where('seed', '=', seed)
      .where('purpose', '=', purpose)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /** Every retraining of a job: finalists before baselines, then by architecture id and seed. */
  async listForJob(jobId: string): Promise<StandaloneTrainingRecord[]> {
    const rows = await this.db
      .selectFrom('standalone_trainings')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('purpose', 'desc')
      .orderBy('architecture_id')
      .orderBy('seed')
      .execute();
    return rows.map(toRecord);
  }
}
