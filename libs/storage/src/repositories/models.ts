import { Db } from '../database';
import { nowIso } from './json';

export interface ModelRecord {
  readonly jobId: string;
  readonly architectureId: string;
  readonly onnx: Uint8Array;
  /** What the weights are (e.g. initialised, not trained at the deployment geometry). */
  readonly note: string;
  readonly createdAt: string;
}

export type ModelSummary = Omit<ModelRecord, 'onnx'> & { readonly bytes: number };

/** Exported ONNX models of a job's Pareto architectures. */
export class ModelRepository {
  constructor(private readonly db: Db) {}

  /** Idempotent by (job, architecture id): a re-export replaces the bytes. */
  async save(jobId: string, architectureId: string, onnx: Uint8Array, note: string): Promise<void> {
    const bytes = Buffer.from(onnx.buffer, onnx.byteOffset, onnx.byteLength);
    const now = nowIso();
    await this.db
      .insertInto('models')
      .values({ job_id: jobId, architecture_id: architectureId, onnx: bytes, note, created_at: now })
      .onConflict((oc) =>
        oc.columns(['job_id', 'architecture_id']).doUpdateSet({ onnx: bytes, note, created_at: now }),
      )
      .execute();
  }

  async get(jobId: string, architectureId: string): Promise<ModelRecord | undefined> {
    const row = await this.db
      .selectFrom('models')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('architecture_id', '=', architectureId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      jobId: row.job_id,
      architectureId: row.architecture_id,
      onnx: new Uint8Array(row.onnx.buffer, row.onnx.byteOffset, row.onnx.byteLength),
      note: row.note,
      createdAt: row.created_at,
    };
  }

  async has(jobId: string, architectureId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('models')
      .select('architecture_id')
      .where('job_id', '=', jobId)
      .where('architecture_id', '=', architectureId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async list(jobId: string): Promise<ModelSummary[]> {
    const rows = await this.db
      .selectFrom('models')
      .select((eb) => [
        'job_id',
        'architecture_id',
        'note',
        'created_at',
        eb.fn('length', ['onnx']).as('bytes'),
      ])
      .where('job_id', '=', jobId)
      .orderBy('architecture_id')
      .execute();
    return rows.map((r) => ({
      jobId: r.job_id,
      architectureId: r.architecture_id,
      note: r.note,
      createdAt: r.created_at,
      bytes: Number(r.bytes),
    }));
  }
}
