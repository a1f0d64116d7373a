import { ColumnType } from 'kysely';

/**
 * Table shapes as stored. Portable across SQLite and PostgreSQL: ids and timestamps (ISO 8601) are text,
 * JSON is text, booleans are integers 0/1, latencies and counts that may exceed 2^31 are double precision.
 */
export interface DevicesTable {
  id: string;
  name: string;
  profile_json: string;
  token_hash: string;
  /** Digest of the user API key that registered it; null for devices registered before owners were kept. */
  owner: string | null;
  /** fp32 or int8 (DevicePrecision); the column has a default, so inserts may leave it out. */
  precision: ColumnType<string, string | undefined, string>;
  created_at: string;
}

interface StatsColumns {
  estimate_ms: number;
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
  rounds: number;
  repeats_per_round: number;
  warmup_runs: number;
}

export interface BlockMeasurementsTable extends StatsColumns {
  id: string;
  device_id: string;
  signature_key: string;
  op: string;
  kernel: number;
  expansion: number;
  conv_groups: number;
  stride: number;
  cin: number;
  cout: number;
  height: number;
  width: number;
  activation: string;
  classes: number;
  overhead_ms: number;
  agent_version: string;
  measured_at: string;
  drift_flagged: number;
  received_at: string;
}

export interface ArchitectureMeasurementsTable extends StatsColumns {
  id: string;
  device_id: string;
  space: string;
  architecture: string;
  verification_id: string | null;
  /** 'calibration' | 'reference' (calibration work the server handed out), else null. */
  purpose: string | null;
  /** 'float' | 'int8': a final model's file was measured; null: the architecture as the agent built it. */
  model_file: string | null;
  agent_version: string;
  measured_at: string;
  drift_flagged: number;
  received_at: string;
}

export interface VerificationRequestsTable {
  id: string;
  device_id: string;
  job_id: string;
  space: string;
  architecture: string;
  status: string;
  measurement_id: string | null;
  created_at: string;
  completed_at: string | null;
  /** Set (with model_file) when the request is for a final model's file rather than the architecture. */
  final_model_id: string | null;
  /** 'float' | 'int8' */
  model_file: string | null;
}

export interface JobsTable {
  id: string;
  input_json: string;
  status: string;
  result_json: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface CandidatesTable {
  job_id: string;
  architecture_id: string;
  architecture: string;
  generation: number;
  status: string;
  accuracy: number | null;
  predicted_latency_ms: number | null;
  predicted_json: string | null;
  measured_json: string | null;
  macs: number | null;
  params: number | null;
  training_json: string | null;
  created_at: string;
  updated_at: string;
}

export interface ModelsTable {
  job_id: string;
  architecture_id: string;
  onnx: ColumnType<Buffer, Buffer | Uint8Array, Buffer | Uint8Array>;
  note: string;
  created_at: string;
}

export interface StandaloneTrainingsTable {
  job_id: string;
  architecture_id: string;
  architecture: string;
  seed: number;
  purpose: string;
  baseline: string | null;
  accuracy: number;
  training_json: string | null;
  created_at: string;
}

/** A supernet's bytes, shared by every worker: the finished artifact and the latest training checkpoint. */
export interface SupernetFilesTable {
  key: string;
  /** 'artifact' | 'checkpoint' */
  kind: string;
  step: number;
  sha256: string;
  bytes: ColumnType<Buffer, Buffer | Uint8Array, Buffer | Uint8Array>;
  updated_at: string;
}

/** The latest checkpoint of a training by key (`final-model/<id>`, `teacher/<key>`). */
export interface TrainingCheckpointsTable {
  key: string;
  step: number;
  sha256: string;
  bytes: ColumnType<Buffer, Buffer | Uint8Array, Buffer | Uint8Array>;
  updated_at: string;
}

/** Who trains a supernet now: one job per key at a time, under a lease its heartbeats renew. */
export interface SupernetClaimsTable {
  key: string;
  owner: string;
  expires_at: string;
}

/** A deployable model of a job's architecture: its request, state, card and both ONNX files. */
export interface FinalModelsTable {
  id: string;
  job_id: string;
  architecture_id: string;
  architecture: string;
  request_json: string;
  status: string;
  progress_json: string | null;
  /** The trainer's result (steps, backend, resumed step, …) once training finished. */
  training_json: string | null;
  card_json: string | null;
  error: string | null;
  float_onnx: ColumnType<Buffer | null, Buffer | Uint8Array | null, Buffer | Uint8Array | null>;
  int8_onnx: ColumnType<Buffer | null, Buffer | Uint8Array | null, Buffer | Uint8Array | null>;
  created_at: string;
  updated_at: string;
}

/** A user API key kept in the database: only its hash; `owner` is the owner of the key that created it. */
export interface ApiKeysTable {
  id: string;
  owner: string;
  name: string;
  secret_hash: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface EdgeNasDatabase {
  devices: DevicesTable;
  block_measurements: BlockMeasurementsTable;
  architecture_measurements: ArchitectureMeasurementsTable;
  verification_requests: VerificationRequestsTable;
  jobs: JobsTable;
  candidates: CandidatesTable;
  models: ModelsTable;
  standalone_trainings: StandaloneTrainingsTable;
  supernet_files: SupernetFilesTable;
  supernet_claims: SupernetClaimsTable;
  final_models: FinalModelsTable;
  api_keys: ApiKeysTable;
  training_checkpoints: TrainingCheckpointsTable;
}
