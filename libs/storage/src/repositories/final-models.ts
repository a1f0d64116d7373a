import {
  FinalModelFile,
  FinalModelProgress,
  FinalModelStatus,
  FinalTrainingSpec,
  ModelCard,
  TERMINAL_FINAL_MODEL_STATUSES,
} from '@edgenas/contracts';
import { Db } from '../database';
import { fromJson, JsonValue, nowIso, toJson } from './json';

/** A final model without its files (their sizes instead). */
export interface FinalModelRecord {
  readonly id: string;
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly request: FinalTrainingSpec;
  readonly status: FinalModelStatus;
  readonly progress: FinalModelProgress | null;
  /** The trainer's result once the network is trained (before quantization). */
  readonly training: JsonValue | null;
  readonly card: ModelCard | null;
  readonly error: string | null;
  readonly floatBytes: number | null;
  readonly int8Bytes: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type { FinalModelFile };

export interface FinalModelCreate {
  readonly id: string;
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly request: FinalTrainingSpec;
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Final trainings of a job's architectures: request, status, progress, model card and both ONNX files. */
export class FinalModelRepository {
  constructor(private readonly db: Db) {}

  private select() {
    return this.db
      .selectFrom('final_models')
      .select((eb) => [
        'id',
        'job_id',
        'architecture_id',
        'architecture',
        'request_json',
        'status',
        'progress_json',
        'training_json',
        'card_json',
        'error',
        'created_at',
        'updated_at',
        eb.fn<number | null>('length', ['float_onnx']).as('float_bytes'),
        eb.fn<number | null>('length', ['int8_onnx']).as('int8_bytes'),
      ]);
  }

  private static toRecord(r: {
    id: string;
    job_id: string;
    architecture_id: string;
    architecture: string;
    request_json: string;
    status: string;
    progress_json: string | null;
    training_json: string | null;
    card_json: string | null;
    error: string | null;
    created_at: string;
    updated_at: string;
    float_bytes: number | string | null;
    int8_bytes: number | string | null;
  }): FinalModelRecord {
    return {
      id: r.id,
      jobId: r.job_id,
      architectureId: r.architecture_id,
      architecture: r.architecture,
      request: fromJson<FinalTrainingSpec>(r.request_json),
      status: r.status as FinalModelStatus,
      progress: fromJson<FinalModelProgress>(r.progress_json),
      training: fromJson<JsonValue>(r.training_json),
      card: fromJson<ModelCard>(r.card_json),
      error: r.error,
      floatBytes: r.float_bytes === null ? null : Number(r.float_bytes),
      int8Bytes: r.int8_bytes === null ? null : Number(r.int8_bytes),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  async create(m: FinalModelCreate): Promise<FinalModelRecord> {
    const now = nowIso();
    await this.db
      .insertInto('final_models')
      .values({
        id: m.id,
        job_id: m.jobId,
        architecture_id: m.architectureId,
        architecture: m.architecture,
        request_json: toJson(m.request),
        status: 'queued',
        progress_json: null,
        training_json: null,
        card_json: null,
        error: null,
        float_onnx: null,
        int8_onnx: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const created = await this.get(m.id);
    if (!created) throw new Error(`final model ${m.id} vanished after insert`);
    return created;
  }

  async get(id: string): Promise<FinalModelRecord | undefined> {
    const row = await this.select().where('id', '=', id).executeTakeFirst();
    return row && FinalModelRepository.toRecord(row);
  }

  /** A job's final models, oldest first. */
  async list(jobId: string): Promise<FinalModelRecord[]> {
    const rows = await this.select()
      .where('job_id', '=', jobId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => FinalModelRepository.toRecord(r));
  }

  /** Moves to a status (with an error); a terminal status is final. Returns whether the row changed. */
  async setStatus(id: string, status: FinalModelStatus, error?: string): Promise<boolean> {
    const res = await this.db
      .updateTable('final_models')
      .set({ status, updated_at: nowIso(), ...(error !== undefined ? { error } : {}) })
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL_FINAL_MODEL_STATUSES)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async setProgress(id: string, progress: FinalModelProgress): Promise<void> {
    await this.db
      .updateTable('final_models')
      .set({ progress_json: toJson(progress), updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL_FINAL_MODEL_STATUSES)
      .execute();
  }

  /** The trained float model and the trainer's result (idempotent: a retried activity replaces them). */
  async saveTrained(id: string, floatOnnx: Uint8Array, training: JsonValue): Promise<void> {
    await this.db
      .updateTable('final_models')
      .set({ float_onnx: toBuffer(floatOnnx), training_json: toJson(training), updated_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Stores the card and the INT8 file (null: none was made) without completing the model: its files are measured
   * on the devices next (phase `verifying`).
   */
  async saveQuantized(id: string, card: ModelCard, int8Onnx: Uint8Array | null): Promise<void> {
    const progress: FinalModelProgress = {
      phase: 'verifying',
      step: card.training.steps,
      totalSteps: card.training.steps,
      updatedAt: nowIso(),
    };
    await this.db
      .updateTable('final_models')
      .set({
        card_json: toJson(card),
        int8_onnx: int8Onnx ? toBuffer(int8Onnx) : null,
        progress_json: toJson(progress),
        updated_at: nowIso(),
      })
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL_FINAL_MODEL_STATUSES)
      .execute();
  }

  /**
   * Stores the card and marks the model completed, in one update; with `int8Onnx` (null: none) the INT8 file too,
   * else the one `saveQuantized` stored stays.
   */
  async complete(id: string, card: ModelCard, int8Onnx?: Uint8Array | null): Promise<void> {
    const progress: FinalModelProgress = {
      phase: 'completed',
      step: card.training.steps,
      totalSteps: card.training.steps,
      updatedAt: nowIso(),
    };
    await this.db
      .updateTable('final_models')
      .set({
        status: 'completed',
        card_json: toJson(card),
        ...(int8Onnx !== undefined ? { int8_onnx: int8Onnx ? toBuffer(int8Onnx) : null } : {}),
        progress_json: toJson(progress),
        error: null,
        updated_at: nowIso(),
      })
      .where('id', '=', id)
      .where('status', 'not in', TERMINAL_FINAL_MODEL_STATUSES)
      .execute();
  }

  async file(id: string, which: FinalModelFile): Promise<Uint8Array | undefined> {
    const column = which === 'float' ? 'float_onnx' : 'int8_onnx';
    const row = await this.db
      .selectFrom('final_models')
      .select(column)
      .where('id', '=', id)
      .executeTakeFirst();
    const bytes = row?.[column as keyof typeof row] as Buffer | null | undefined;
    return bytes ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
  }

  /** Removes a final model whose workflow could not be started (still queued), so a refused request leaves nothing. */
  async deleteUnstarted(id: string): Promise<void> {
    await this.db.deleteFrom('final_models').where('id', '=', id).where('status', '=', 'queued').execute();
  }
}
