import { BlockSignature, SignatureOp, signatureKey } from '@edgenas/search-space';
import {
  ArchitectureMeasurement,
  ArchitectureMeasurementPurpose,
  BlockMeasurement,
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
    ...statsFields(r),
    ...provenanceFields(r),
  };
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
   * Stores a batch in one transaction (all or nothing). An architecture row carrying a verificationId
   * completes that device's pending verification request.
   */
  async insertBatch(deviceId: string, batch: MeasurementBatch): Promise<BatchInsertResult> {
    const receivedAt = nowIso();
    return this.db.transaction().execute(async (trx) => {
      const blocks = await insertIgnoring(
        (rows) =>
          trx
            .insertInto('block_measurements')
            .values(rows)
            .onConflict((oc) => oc.column('id').doNothing())
            .returning('id')
            .execute(),
        (batch.blocks ?? []).map((m) => blockRow(deviceId, m, receivedAt)),
      );
      const archRows = (batch.architectures ?? []).map((m) => architectureRow(deviceId, m, receivedAt));
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
