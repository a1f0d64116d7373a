import { Db } from '../database';
import { nowIso } from './json';

export interface TrainingCheckpointRecord {
  readonly key: string;
  /** Training steps the checkpoint holds. */
  readonly step: number;
  readonly sha256: string;
  readonly bytes: Uint8Array;
  readonly updatedAt: string;
}

/**
 * The latest checkpoint of each long training that is not a supernet (those have SupernetRepository), shared
 * through the database because workers on other machines have other data dirs.
 */
export class TrainingCheckpointRepository {
  constructor(private readonly db: Db) {}

  /** Stores a checkpoint unless one of a later step is already there (an older attempt may still write). */
  async put(checkpoint: Omit<TrainingCheckpointRecord, 'updatedAt'>): Promise<void> {
    const bytes = Buffer.from(
      checkpoint.bytes.buffer,
      checkpoint.bytes.byteOffset,
      checkpoint.bytes.byteLength,
    );
    const now = nowIso();
    await this.db
      .insertInto('training_checkpoints')
      .values({
        key: checkpoint.key,
        step: checkpoint.step,
        sha256: checkpoint.sha256,
        bytes,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ step: checkpoint.step, sha256: checkpoint.sha256, bytes, updated_at: now })
          .where('training_checkpoints.step', '<=', checkpoint.step),
      )
      .execute();
  }

  async get(key: string): Promise<TrainingCheckpointRecord | undefined> {
    const row = await this.db
      .selectFrom('training_checkpoints')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    return row
      ? {
          key: row.key,
          step: row.step,
          sha256: row.sha256,
          bytes: new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength),
          updatedAt: row.updated_at,
        }
      : undefined;
  }

  /** Once the training is done its checkpoint is of no use. */
  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('training_checkpoints').where('key', '=', key).execute();
  }
}
