import { BlockSignature, SignatureOp, signatureKey } from '@edgenas/search-space';
import {
  ArchitectureMeasurement,
  ArchitectureMeasurementPurpose,
  BlockMeasurement,
  FinalModelFile,
  LatencyStats,
} from '@edgenas/contracts';
import { Db } from '../database';
import { ArchitectureMeasurementsTable, BlockMeasurementsTable } from '../schema';
import { nowIso } from './json';

/** An architecture measurement as uploaded, optionally answering a verification request. */
export interface ArchitectureMeasurementUpload extends ArchitectureMeasurement {
  readonly verificationId?: string;
}

export interface StoredBlockMeasurement extends BlockMeasurement {
  readonly deviceId: string;
  readonly receivedAt: string;
}

export interface StoredArchitectureMeasurement extends ArchitectureMeasurement {
  readonly deviceId: string;
  readonly verificationId: string | null;
  readonly receivedAt: string;
}

export interface MeasurementBatch {
  readonly blocks?: readonly BlockMeasurement[];
  readonly architectures?: readonly ArchitectureMeasurementUpload[];
}

export interface InsertCounts {
  readonly accepted: number;
  readonly duplicates: number;
}

export interface BatchInsertResult extends InsertCounts {
  readonly blocks: InsertCounts;
  readonly architectures: InsertCounts;
}

// Rows per INSERT statement: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK_ROWS = 200;

// Columns both measurement tables share: the latency statistics and where a row came from.
type StatsColumns = Pick<
  BlockMeasurementsTable,
  'estimate_ms' | 'median_ms' | 'p10_ms' | 'p90_ms' | 'rounds' | 'repeats_per_round' | 'warmup_runs'
>;
type ProvenanceColumns = Pick<
  BlockMeasurementsTable,
  'agent_version' | 'measured_at' | 'drift_flagged' | 'received_at'
>;
type Provenance = Pick<BlockMeasurement, 'agentVersion' | 'measuredAt' | 'driftFlagged'>;

function statsColumns(m: LatencyStats): StatsColumns {
  return {
    estimate_ms: m.estimateMs,
    median_ms: m.medianMs,
    p10_ms: m.p10Ms,
    p90_ms: m.p90Ms,
    rounds: m.rounds,
    repeats_per_round: m.repeatsPerRound,
    warmup_runs: m.warmupRuns,
  };
}

function statsFields(r: StatsColumns): LatencyStats {
  return {
    estimateMs: r.estimate_ms,
    medianMs: r.median_ms,
    p10Ms: r.p10_ms,
    p90Ms: r.p90_ms,
    rounds: r.rounds,
    repeatsPerRound: r.repeats_per_round,
    warmupRuns: r.warmup_runs,
  };
}

function provenanceColumns(m: Provenance, receivedAt: string): ProvenanceColumns {
  return {
    agent_version: m.agentVersion,
    measured_at: m.measuredAt,
    drift_flagged: m.driftFlagged ? 1 : 0,
    received_at: receivedAt,
  };
}

function provenanceFields(r: ProvenanceColumns): Provenance & { receivedAt: string } {
  return {
    agentVersion: r.agent_version,
    measuredAt: r.measured_at,
    driftFlagged: r.drift_flagged !== 0,
    receivedAt: r.received_at,
  };
}

function blockRow(deviceId: string, m: BlockMeasurement, receivedAt: string): BlockMeasurementsTable {
  const s = m.signature;
  return {
    id: m.id,
    device_id: deviceId,
    signature_key: signatureKey(s),
    op: s.op,
    kernel: s.kernel,
    expansion: s.expansion,
    conv_groups: s.groups,
    stride: s.stride,
    cin: s.cin,
    cout: s.cout,
    height: s.height,
    width: s.width,
    activation: s.activation,
    classes: s.classes,
    ...statsColumns(m),
    overhead_ms: m.overheadMs,
    ...provenanceColumns(m, receivedAt),
  };
}

function fromBlockRow(r: BlockMeasurementsTable): StoredBlockMeasurement {
  const signature: BlockSignature = {
    op: r.op as SignatureOp,
    kernel: r.kernel,
    expansion: r.expansion,
    groups: r.conv_groups,
    stride: r.stride,
    cin: r.cin,
    cout: r.cout,
    height: r.height,
    width: r.width,
    activation: r.activation as 'relu',
    classes: r.classes,
  };
  return {
    id: r.id,
    deviceId: r.device_id,
    signature,
    ...statsFields(r),
    overheadMs: r.overhead_ms,
    ...provenanceFields(r),
  };
}

function architectureRow(
  deviceId: string,
  m: ArchitectureMeasurementUpload,
  receivedAt: string,
): ArchitectureMeasurementsTable {
  return {
    id: m.id,
    device_id: deviceId,
    space: m.space,
    architecture: m.architecture,
    verification_id: m.verificationId ?? null,
    purpose: m.purpose ?? null,
    model_file: m.modelFile ?? null,
    ...statsColumns(m),
    ...provenanceColumns(m, receivedAt),
  };
}

function fromArchitectureRow(r: ArchitectureMeasurementsTable): StoredArchitectureMeasurement {
  return {
    id: r.id,
    deviceId: r.device_id,
    space: r.space,
    architecture: r.architecture,
    verificationId: r.verification_id,
    ...(r.purpose ? { purpose: r.purpose as ArchitectureMeasurementPurpose } : {}),
    ...(r.model_file ? { modelFile: r.model_file as FinalModelFile } : {}),
    ...statsFields(r),
    ...provenanceFields(r),
  };
}

/** A measurement id sent again with other values than the row stored (or sent earlier in the batch) under it. */
export interface MeasurementIdConflict {
  readonly table: 'blocks' | 'architectures';
  /** Index of the row in its list of the batch. */
  readonly index: number;
  readonly id: string;
  /** The row stored under that id belongs to another device (nothing else is said about it). */
  readonly otherDevice: boolean;
  /** Upload fields whose values differ (empty when `otherDevice`). */
  readonly fields: readonly string[];
}

/** A batch re-sent an id with different values: nothing of the batch was stored. */
export class MeasurementConflictError extends Error {
  override name = 'MeasurementConflictError';
  constructor(readonly conflicts: readonly MeasurementIdConflict[]) {
    super(`${conflicts.length} measurement id(s) already stored with different values`);
  }
}

/** Upload field a column holds (the signature's columns are one field). */
const FIELD_OF_COLUMN: Readonly<Record<string, string>> = {
  estimate_ms: 'estimateMs',
  median_ms: 'medianMs',
  p10_ms: 'p10Ms',
  p90_ms: 'p90Ms',
  rounds: 'rounds',
  repeats_per_round: 'repeatsPerRound',
  warmup_runs: 'warmupRuns',
  overhead_ms: 'overheadMs',
  agent_version: 'agentVersion',
  measured_at: 'measuredAt',
  drift_flagged: 'driftFlagged',
  space: 'space',
  architecture: 'architecture',
  verification_id: 'verificationId',
  purpose: 'purpose',
  model_file: 'modelFile',
};
const IGNORED_COLUMNS = new Set(['id', 'device_id', 'received_at']);

/** Upload fields whose stored and re-sent values differ (timestamps compared as instants). */
function differingFields(stored: object, sent: object): string[] {
  const a = stored as Record<string, unknown>;
  const b = sent as Record<string, unknown>;
  const fields = new Set<string>();
  for (const column of Object.keys(b)) {
    if (IGNORED_COLUMNS.has(column)) continue;
    const same =
      column === 'measured_at'
        ? Date.parse(String(a[column])) === Date.parse(String(b[column]))
        : (a[column] ?? null) === (b[column] ?? null);
    if (!same) fields.add(FIELD_OF_COLUMN[column] ?? 'signature');
  }
  return [...fields];
}

/**
 * Rows of the batch whose id is already taken by a row with other values: stored ones (`existing`, by id) and
 * earlier rows of the same batch. Identical rows are duplicates, not conflicts.
 */
function conflictsOf<R extends { id: string; device_id: string }>(
  table: MeasurementIdConflict['table'],
  rows: readonly R[],
  existing: ReadonlyMap<string, R>,
): MeasurementIdConflict[] {
  const conflicts: MeasurementIdConflict[] = [];
  const seen = new Map<string, R>(existing);
  rows.forEach((row, index) => {
    const before = seen.get(row.id);
    if (!before) {
      seen.set(row.id, row);
      return;
    }
    if (before.device_id !== row.device_id) {
      conflicts.push({ table, index, id: row.id, otherDevice: true, fields: [] });
      return;
    }
    const fields = differingFields(before, row);
    if (fields.length > 0) conflicts.push({ table, index, id: row.id, otherDevice: false, fields });
  });
  return conflicts;
}

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK_ROWS) out.push(xs.slice(i, i + CHUNK_ROWS));
  return out;
}

/**
 * Raw measurement rows: insert-or-ignore by the client's id, never updated or deleted, so a retried upload
 * never duplicates a row and a LUT can always be rebuilt from what devices reported.
 */
export class MeasurementRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a batch in one transaction (all or nothing). An id already stored with the same values is a
   * duplicate (a retried upload); with other values, or sent twice with different values within the batch, it
   * is a `MeasurementConflictError` and nothing is stored. An architecture row carrying a verificationId
   * completes that device's pending verification request.
   */
  async insertBatch(deviceId: string, batch: MeasurementBatch): Promise<BatchInsertResult> {
    const receivedAt = nowIso();
    const blockRows = (batch.blocks ?? []).map((m) => blockRow(deviceId, m, receivedAt));
    const archRows = (batch.architectures ?? []).map((m) => architectureRow(deviceId, m, receivedAt));
    return this.db.transaction().execute(async (trx) => {
      const storedBlocks = async (ids: readonly string[]) => {
        const stored = new Map<string, BlockMeasurementsTable>();
        for (const chunk of chunks(ids)) {
          const rows = await trx
            .selectFrom('block_measurements')
            .selectAll()
            .where('id', 'in', chunk)
            .execute();
          for (const r of rows) stored.set(r.id, r);
        }
        return stored;
      };
      const storedArchitectures = async (ids: readonly string[]) => {
        const stored = new Map<string, ArchitectureMeasurementsTable>();
        for (const chunk of chunks(ids)) {
          const rows = await trx
            .selectFrom('architecture_measurements')
            .selectAll()
            .where('id', 'in', chunk)
            .execute();
          for (const r of rows) stored.set(r.id, r);
        }
        return stored;
      };
      const blocksBefore = await storedBlocks(blockRows.map((r) => r.id));
      const architecturesBefore = await storedArchitectures(archRows.map((r) => r.id));
      const conflicts = [
        ...conflictsOf('blocks', blockRows, blocksBefore),
        ...conflictsOf('architectures', archRows, architecturesBefore),
      ];
      if (conflicts.length > 0) throw new MeasurementConflictError(conflicts);

      const blocks = await insertIgnoring(
        (rows) =>
          trx
            .insertInto('block_measurements')
            .values(rows)
            .onConflict((oc) => oc.column('id').doNothing())
            .returning('id')
            .execute(),
        blockRows,
      );
      const architectures = await insertIgnoring(
        (rows) =>
          trx
            .insertInto('architecture_measurements')
            .values(rows)
            .onConflict((oc) => oc.column('id').doNothing())
            .returning('id')
            .execute(),
        archRows,
      );
      // ids neither stored before nor inserted now were stored by a concurrent upload: compare with those too
      const raced = <R extends { id: string }>(
        rows: readonly R[],
        before: ReadonlyMap<string, R>,
        ins: Set<string>,
      ) => rows.filter((r) => !before.has(r.id) && !ins.has(r.id)).map((r) => r.id);
      const racedBlocks = raced(blockRows, blocksBefore, blocks.insertedIds);
      const racedArchitectures = raced(archRows, architecturesBefore, architectures.insertedIds);
      if (racedBlocks.length + racedArchitectures.length > 0) {
        const late = [
          ...conflictsOf('blocks', blockRows, await storedBlocks(racedBlocks)),
          ...conflictsOf('architectures', archRows, await storedArchitectures(racedArchitectures)),
        ];
        if (late.length > 0) throw new MeasurementConflictError(late);
      }
      for (const row of archRows) {
        if (!row.verification_id || !architectures.insertedIds.has(row.id)) continue;
        await trx
          .updateTable('verification_requests')
          .set({ status: 'completed', measurement_id: row.id, completed_at: receivedAt })
          .where('id', '=', row.verification_id)
          .where('device_id', '=', deviceId)
          .where('status', '=', 'pending')
          .execute();
      }
      const b = { accepted: blocks.insertedIds.size, duplicates: blocks.total - blocks.insertedIds.size };
      const a = {
        accepted: architectures.insertedIds.size,
        duplicates: architectures.total - architectures.insertedIds.size,
      };
      return {
        accepted: b.accepted + a.accepted,
        duplicates: b.duplicates + a.duplicates,
        blocks: b,
        architectures: a,
      };
    });
  }

  async listBlockMeasurements(deviceId: string): Promise<StoredBlockMeasurement[]> {
    const rows = await this.db
      .selectFrom('block_measurements')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('received_at')
      .orderBy('id')
      .execute();
    return rows.map(fromBlockRow);
  }

  /** Architecture measurements of a device, optionally of one space (the canonical geometry name). */
  async listArchitectureMeasurements(
    deviceId: string,
    space?: string,
  ): Promise<StoredArchitectureMeasurement[]> {
    let q = this.db.selectFrom('architecture_measurements').selectAll().where('device_id', '=', deviceId);
    if (space !== undefined) q = q.where('space', '=', space);
    const rows = await q.orderBy('received_at').orderBy('id').execute();
    return rows.map(fromArchitectureRow);
  }

  async getArchitectureMeasurement(id: string): Promise<StoredArchitectureMeasurement | undefined> {
    const row = await this.db
      .selectFrom('architecture_measurements')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && fromArchitectureRow(row);
  }

  /** Distinct signature keys with at least one stored row for the device. */
  async measuredSignatureKeys(deviceId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('block_measurements')
      .select('signature_key')
      .distinct()
      .where('device_id', '=', deviceId)
      .execute();
    return new Set(rows.map((r) => r.signature_key));
  }

  async countRows(deviceId?: string): Promise<{ blocks: number; architectures: number }> {
    let bq = this.db.selectFrom('block_measurements').select((eb) => eb.fn.countAll().as('n'));
    let aq = this.db.selectFrom('architecture_measurements').select((eb) => eb.fn.countAll().as('n'));
    if (deviceId !== undefined) {
      bq = bq.where('device_id', '=', deviceId);
      aq = aq.where('device_id', '=', deviceId);
    }
    const [b, a] = await Promise.all([bq.executeTakeFirstOrThrow(), aq.executeTakeFirstOrThrow()]);
    // PostgreSQL returns count(*) as a bigint string.
    return { blocks: Number(b.n), architectures: Number(a.n) };
  }
}

async function insertIgnoring<R extends { id: string }>(
  insert: (rows: R[]) => Promise<{ id: string }[]>,
  rows: readonly R[],
): Promise<{ insertedIds: Set<string>; total: number }> {
  const insertedIds = new Set<string>();
  for (const chunk of chunks(rows)) {
    for (const r of await insert(chunk)) insertedIds.add(r.id);
  }
  return { insertedIds, total: rows.length };
}
