import { Db } from '../database';
import { SupernetFilesTable } from '../schema';
import { nowIso } from './json';

/** The finished supernet, or the latest checkpoint of one still training. */
export type SupernetFileKind = 'artifact' | 'checkpoint';

export interface SupernetFileHead {
  readonly key: string;
  readonly kind: SupernetFileKind;
  /** Training steps the file holds. */
  readonly step: number;
  readonly sha256: string;
  readonly updatedAt: string;
}

export interface SupernetFileRecord extends SupernetFileHead {
  readonly bytes: Uint8Array;
}

export type SupernetClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly owner: string; readonly expiresAt: string };

function headOf(row: Omit<SupernetFilesTable, 'bytes'>): SupernetFileHead {
  return {
    key: row.key,
    kind: row.kind as SupernetFileKind,
    step: row.step,
    sha256: row.sha256,
    updatedAt: row.updated_at,
  };
}

/**
 * Supernet files shared through the database (workers on other machines have other data dirs), and the claim
 * that lets one job at a time train a given content key.
 */
export class SupernetRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a file by (key, kind). A checkpoint never replaces a later one (a job that lost its claim may still
   * write an older step); an artifact is written once and kept.
   */
  async put(file: Omit<SupernetFileRecord, 'updatedAt'>): Promise<void> {
    const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
    const now = nowIso();
    await this.db
      .insertInto('supernet_files')
      .values({
        key: file.key,
        kind: file.kind,
        step: file.step,
        sha256: file.sha256,
        bytes,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['key', 'kind'])
          .doUpdateSet({ step: file.step, sha256: file.sha256, bytes, updated_at: now })
          .where('supernet_files.kind', '=', 'checkpoint')
          .where('supernet_files.step', '<=', file.step),
      )
      .execute();
  }

  /** The file's step and digest, without its bytes. */
  async head(key: string, kind: SupernetFileKind): Promise<SupernetFileHead | undefined> {
    const row = await this.db
      .selectFrom('supernet_files')
      .select(['key', 'kind', 'step', 'sha256', 'updated_at'])
      .where('key', '=', key)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row ? headOf(row) : undefined;
  }

  async get(key: string, kind: SupernetFileKind): Promise<SupernetFileRecord | undefined> {
    const row = await this.db
      .selectFrom('supernet_files')
      .selectAll()
      .where('key', '=', key)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row
      ? {
          ...headOf(row),
          bytes: new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength),
        }
      : undefined;
  }

  async deleteCheckpoint(key: string): Promise<void> {
    await this.db
      .deleteFrom('supernet_files')
      .where('key', '=', key)
      .where('kind', '=', 'checkpoint')
      .execute();
  }

  /**
   * Claims `key` for `owner` for `leaseMs`: granted when nobody holds it, when `owner` already does (a renewal,
   * or a retried attempt of the same job), or when the holder's lease has run out. Otherwise names the holder.
   */
  async claim(key: string, owner: string, leaseMs: number, now = new Date()): Promise<SupernetClaim> {
    const expiresAt = new Date(now.getTime() + leaseMs).toISOString();
    await this.db
      .insertInto('supernet_claims')
      .values({ key, owner, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ owner, expires_at: expiresAt })
          .where((eb) =>
            eb.or([
              eb('supernet_claims.owner', '=', owner),
              eb('supernet_claims.expires_at', '<', now.toISOString()),
            ]),
          ),
      )
      .execute();
    const row = await this.db
      .selectFrom('supernet_claims')
      .select(['owner', 'expires_at'])
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    return row.owner === owner
      ? { claimed: true }
      : { claimed: false, owner: row.owner, expiresAt: row.expires_at };
  }

  /** Gives the claim up (only `owner`'s own). */
  async release(key: string, owner: string): Promise<void> {
    await this.db.deleteFrom('supernet_claims').where('key', '=', key).where('owner', '=', owner).execute();
  }
}
