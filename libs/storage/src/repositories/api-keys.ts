import { Db } from '../database';
import { ApiKeysTable } from '../schema';
import { nowIso } from './json';

export interface ApiKeyRecord {
  readonly id: string;
  /** Whose devices and jobs the key acts for: the owner of the key that created it. */
  readonly owner: string;
  readonly name: string;
  readonly createdAt: string;
  /** Set once; a revoked key is refused from then on. */
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface NewApiKey {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  /** Hash of the secret; the secret itself is never stored. */
  readonly secretHash: string;
}

const PUBLIC_COLUMNS = ['id', 'owner', 'name', 'created_at', 'revoked_at', 'last_used_at'] as const;

function toRecord(row: Pick<ApiKeysTable, (typeof PUBLIC_COLUMNS)[number]>): ApiKeyRecord {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** User API keys stored by hash. Reads go to the database every time: a revocation counts at once. */
export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    const row = {
      id: key.id,
      owner: key.owner,
      name: key.name,
      secret_hash: key.secretHash,
      created_at: nowIso(),
      revoked_at: null,
      last_used_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return toRecord(row);
  }

  /** The key with this secret hash, revoked or not. */
  async findBySecretHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /** Every key of an owner, revoked ones included, oldest first. */
  async listByOwner(owner: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('owner', '=', owner)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Revokes an owner's key; revoking it again keeps the first revocation time. Undefined when no key with that
   * id has that owner.
   */
  async revoke(id: string, owner: string): Promise<ApiKeyRecord | undefined> {
    await this.db
      .updateTable('api_keys')
      .set({ revoked_at: nowIso() })
      .where('id', '=', id)
      .where('owner', '=', owner)
      .where('revoked_at', 'is', null)
      .execute();
    const key = await this.get(id);
    return key?.owner === owner ? key : undefined;
  }

  /** Records a use, at most once per `granularityMs` per key (so a busy key does not write on every request). */
  async touch(id: string, at: Date, granularityMs: number): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: at.toISOString() })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb('last_used_at', 'is', null),
          eb('last_used_at', '<', new Date(at.getTime() - granularityMs).toISOString()),
        ]),
      )
      .execute();
  }
}
