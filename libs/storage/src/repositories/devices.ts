import { DEVICE_PRECISIONS, DevicePrecision, DeviceProfile, precisionOf } from '@edgenas/contracts';
import { Db } from '../database';
import { DevicesTable } from '../schema';
import { fromJson, nowIso, toJson } from './json';

export interface DeviceRecord {
  readonly id: string;
  readonly name: string;
  /** `profile.precision` is always set here (the column's value). */
  readonly profile: DeviceProfile;
  readonly precision: DevicePrecision;
  readonly createdAt: string;
}

export interface NewDevice {
  readonly id: string;
  readonly name: string;
  readonly profile: DeviceProfile;
  /** Hash of the device token; the token itself is never stored. */
  readonly tokenHash: string;
  /** Who registers it (names are unique per owner); absent: no owner, no uniqueness. */
  readonly owner?: string;
}

/** The owner already has a device of that name. */
export class DeviceNameTakenError extends Error {
  override name = 'DeviceNameTakenError';
  constructor(readonly existing: DeviceRecord) {
    super(`a device named "${existing.name}" already exists: ${existing.id}`);
  }
}

function storedPrecision(value: string): DevicePrecision {
  const known = DEVICE_PRECISIONS.find((p) => p === value);
  if (!known)
    throw new Error(`stored device precision "${value}" is not one of ${DEVICE_PRECISIONS.join(', ')}`);
  return known;
}

function toRecord(
  row: Pick<DevicesTable, 'id' | 'name' | 'profile_json' | 'created_at'> & { precision: string },
): DeviceRecord {
  const precision = storedPrecision(row.precision);
  return {
    id: row.id,
    name: row.name,
    profile: { ...fromJson<DeviceProfile>(row.profile_json), precision },
    precision,
    createdAt: row.created_at,
  };
}

const PUBLIC_COLUMNS = ['id', 'name', 'profile_json', 'precision', 'created_at'] as const;

export class DeviceRepository {
  constructor(private readonly db: Db) {}

  /** Stores a new device; `DeviceNameTakenError` when its owner already has one of that name. */
  async create(device: NewDevice): Promise<DeviceRecord> {
    const row = {
      id: device.id,
      name: device.name,
      profile_json: toJson(device.profile),
      precision: precisionOf(device.profile),
      token_hash: device.tokenHash,
      owner: device.owner ?? null,
      created_at: nowIso(),
    };
    const taken = async () =>
      device.owner === undefined ? undefined : await this.findByOwnerAndName(device.owner, device.name);
    const before = await taken();
    if (before) throw new DeviceNameTakenError(before);
    try {
      await this.db.insertInto('devices').values(row).execute();
    } catch (err) {
      // a concurrent registration of the same name won the unique index
      const winner = await taken();
      if (winner) throw new DeviceNameTakenError(winner);
      throw err;
    }
    return toRecord(row);
  }

  async findByOwnerAndName(owner: string, name: string): Promise<DeviceRecord | undefined> {
    const row = await this.db
      .selectFrom('devices')
      .select(PUBLIC_COLUMNS)
      .where('owner', '=', owner)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * Replaces the token hash of a device its owner registered (the old token stops working). False when no
   * device with that id has that owner.
   */
  async replaceToken(id: string, owner: string, tokenHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('devices')
      .set({ token_hash: tokenHash })
      .where('id', '=', id)
      .where('owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
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
