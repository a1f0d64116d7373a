import { FinalModelFile } from '@edgenas/contracts';
import { Db } from '../database';
import { VerificationRequestsTable } from '../schema';
import { nowIso } from './json';

export type VerificationStatus = 'pending' | 'completed' | 'expired';

export interface VerificationRequestRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly jobId: string;
  /** Canonical deployment geometry name (what the agent lays the architecture onto). */
  readonly space: string;
  readonly architecture: string;
  readonly status: VerificationStatus;
  /** The architecture measurement that answered it. */
  readonly measurementId: string | null;
  readonly createdAt: string;
  readonly completedAt: string | null;
  /** Set when a final model's file is to be measured (the agent downloads it) rather than the architecture. */
  readonly modelFile: FinalModelFileRef | null;
}

/** A final model's file. */
export interface FinalModelFileRef {
  readonly finalModelId: string;
  readonly file: FinalModelFile;
}

export interface NewVerificationRequest {
  readonly id: string;
  readonly deviceId: string;
  readonly jobId: string;
  readonly space: string;
  readonly architecture: string;
  readonly modelFile?: FinalModelFileRef;
}

function toRecord(r: VerificationRequestsTable): VerificationRequestRecord {
  return {
    id: r.id,
    deviceId: r.device_id,
    jobId: r.job_id,
    space: r.space,
    architecture: r.architecture,
    status: r.status as VerificationStatus,
    measurementId: r.measurement_id,
    createdAt: r.created_at,
    completedAt: r.completed_at,
    modelFile:
      r.final_model_id !== null && r.model_file !== null
        ? { finalModelId: r.final_model_id, file: r.model_file as FinalModelFile }
        : null,
  };
}

/**
 * End-to-end measurement requests for device agents. Completed by an uploaded architecture measurement that
 * names the request (see MeasurementRepository.insertBatch).
 */
export class VerificationRepository {
  constructor(private readonly db: Db) {}

  /** Idempotent by id (a retried activity re-requests with the same id). */
  async create(req: NewVerificationRequest): Promise<VerificationRequestRecord> {
    await this.db
      .insertInto('verification_requests')
      .values({
        id: req.id,
        device_id: req.deviceId,
        job_id: req.jobId,
        space: req.space,
        architecture: req.architecture,
        status: 'pending',
        measurement_id: null,
        created_at: nowIso(),
        completed_at: null,
        final_model_id: req.modelFile?.finalModelId ?? null,
        model_file: req.modelFile?.file ?? null,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    const stored = await this.get(req.id);
    if (!stored) throw new Error(`verification request ${req.id} vanished after insert`);
    return stored;
  }

  async get(id: string): Promise<VerificationRequestRecord | undefined> {
    const row = await this.db
      .selectFrom('verification_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async listPending(deviceId: string): Promise<VerificationRequestRecord[]> {
    const rows = await this.db
      .selectFrom('verification_requests')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('status', '=', 'pending')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  async listForJob(jobId: string): Promise<VerificationRequestRecord[]> {
    const rows = await this.db
      .selectFrom('verification_requests')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('created_at')
      .execute();
    return rows.map(toRecord);
  }

  /** Gives up on a pending request (timeout); a completed one stays completed. */
  async expire(id: string): Promise<void> {
    await this.db
      .updateTable('verification_requests')
      .set({ status: 'expired', completed_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }
}
