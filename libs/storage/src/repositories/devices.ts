import { DeviceProfile } from '@edgenas/contracts';
import { Db } from '../database';
import { DevicesTable } from '../schema';
import { fromJson, nowIso, toJson } from './json';

export interface DeviceRecord {
  readonly id: string;
  readonly name: string;
  readonly profile: DeviceProfile;
  readonly createdAt: string;
}

export interface NewDevice {
  readonly id: string;
  readonly name: string;
  readonly profile: DeviceProfile;
  /** Hash of the device token; the token itself is never stored. */
  readonly tokenHash: string;
}

function toRecord(row: Omit<DevicesTable, 'token_hash'>): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    profile: fromJson<DeviceProfile>(row.profile_json),
    createdAt: row.created_at,
  };
}

const PUBLIC_COLUMNS = ['id', 'name', 'profile_json', 'created_at'] as const;

export class DeviceRepository {
  constructor(private readonly db: Db) {}

  async create(device: NewDevice): Promise<DeviceRecord> {
    const row = {
      id: device.id,
      name: device.name,
      profile_json: toJson(device.profile),
      token_hash: device.tokenHash,
      created_at: nowIso(),
    };
    await this.db.insertInto('devices').values(row).execute();
    return toRecord(row);
  }

  async get(id: string): Promise<DeviceRecord | undefined> {
    const row = await this.db
      .selectFrom('devices')
      .select(PUBLIC_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async getMany(ids: readonly string[]): Promise<DeviceRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('devices').select(PUBLIC_COLUMNS).where('id', 'in', ids).execute();
    return rows.map(toRecord);
  }

  async list(): Promise<DeviceRecord[]> {
    const rows = await this.db
      .selectFrom('devices')
      .select(PUBLIC_COLUMNS)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /** The device a token hash belongs to, if any. */
  async findIdByTokenHash(tokenHash: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('devices')
      .select('id')
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row?.id;
  }
}
