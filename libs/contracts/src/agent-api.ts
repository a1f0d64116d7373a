/**
 * The device agent ↔ API wire format: what `GET /v1/devices/:id/work` hands out and what
 * `POST /v1/devices/:id/measurements` takes and answers. The API's handlers return these types and the
 * agent's client reads them, so a change shows on both sides at compile time.
 */
import type { BlockSignature } from '@edgenas/search-space';
import type { ArchitectureMeasurementPurpose, ArchitectureUpload, BlockMeasurement } from './measurements';

/** `POST /v1/devices` answer: the device's id and its token (shown once). */
export interface DeviceRegistration {
  readonly id: string;
  readonly token: string;
}

/**
 * Extra field of the 409 `POST /v1/devices` answers when the API key already has a device of that name: an agent
 * that lost its state takes that device over (`POST /v1/devices/:id/token`) instead of registering another.
 */
export interface DeviceNameConflict {
  readonly existingDeviceId: string;
}

/** A whole network the server asks the agent to measure end to end for a job's front or final model. */
export interface VerificationRequest {
  readonly id: string;
  /** Canonical geometry name. */
  readonly space: string;
  readonly architecture: string;
}

/** A whole network the server asks the agent to measure for the device's calibration. */
export interface CalibrationWorkItem {
  /** Canonical geometry name. */
  readonly space: string;
  /** Architecture string staged by the geometry. */
  readonly architecture: string;
  readonly purpose: ArchitectureMeasurementPurpose;
}

/** `GET /v1/devices/:id/work`. */
export interface AgentWork {
  readonly deviceId: string;
  /** Canonical geometry names the work covers (asked for, and those of active jobs on this device). */
  readonly spaces: readonly string[];
  /** Block signatures the device's LUT still lacks. */
  readonly missing: readonly BlockSignature[];
  /** Their keys, in the same order. */
  readonly keys: readonly string[];
  readonly verifications: readonly VerificationRequest[];
  readonly calibration: readonly CalibrationWorkItem[];
}

/** `POST /v1/devices/:id/measurements` body: block rows, whole-network rows, or both. */
export interface MeasurementBatch {
  readonly blocks?: readonly BlockMeasurement[];
  readonly architectures?: readonly ArchitectureUpload[];
}

/** `POST /v1/devices/:id/measurements` answer; ids already stored count as duplicates. */
export interface UploadResult {
  readonly accepted: number;
  readonly duplicates: number;
}
