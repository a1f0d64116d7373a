import type { CalibrationPolicy } from '@edgenas/latency-predictor';
import type { Db } from '@edgenas/storage';

/** What the worker's activities are built with: the database, local directories and timing settings. */
export interface ActivityDeps {
  readonly db: Db;
  /** Datasets cache and temp files. */
  readonly dataDir: string;
  /** Image-folder datasets must lie under these (EDGENAS_DATASETS_DIR); default `<dataDir>/datasets`. */
  readonly datasetRoots?: readonly string[];
  /** How long `awaitVerification` waits for device agents; default 120 s. */
  readonly verificationTimeoutMs?: number;
  /** How long a final training waits for agents to measure its files; default `verificationTimeoutMs`. */
  readonly finalVerificationTimeoutMs?: number;
  /** Poll interval of `awaitVerification`; default 1 s. */
  readonly verificationPollMs?: number;
  /** How often supernet training writes a checkpoint; default 20 s. */
  readonly supernetCheckpointIntervalMs?: number;
  /** How often final training (and a teacher's training) writes a checkpoint; default 20 s. */
  readonly finalCheckpointIntervalMs?: number;
  /** How long a job's claim on a supernet key lasts unless renewed; default 120 s. */
  readonly supernetClaimLeaseMs?: number;
  /** How often a job waiting for another's supernet looks again; default 2 s. */
  readonly supernetClaimPollMs?: number;
  /** When calibrations are stale (default: the latency predictor's). */
  readonly calibrationPolicy?: CalibrationPolicy;
}
