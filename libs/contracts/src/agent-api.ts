/**
 * The device agent ↔ API wire format: what `GET /v1/devices/:id/work` hands out and what
 * `POST /v1/devices/:id/measurements` takes and answers. The API's handlers return these types and the
 * agent's client reads them, so a change shows on both sides at compile time.
 */
import type { BlockSignature } from '@edgenas/search-space';
import type {
  ArchitectureMeasurementPurpose,
  ArchitectureUpload,
  BlockMeasurement,
  FinalModelFile,
} from './measurements';

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

/** A whole network the server asks the agent to measure end to end for a job's front. */
export interface VerificationRequest {
  readonly id: string;
  /** Canonical geometry name. */
  readonly space: string;
  readonly architecture: string;
}

/**
 * A final model's ONNX file the server asks the agent to measure end to end: the agent downloads it from
 * `path` (with its device token) and answers with an architecture measurement naming `id` as its
 * verificationId and `file` as its modelFile.
 */
export interface ModelFileVerificationRequest extends VerificationRequest {
  readonly finalModelId: string;
  readonly file: FinalModelFile;
  /** API path of the file, e.g. `/v1/devices/<id>/verifications/<id>/model`. */
  readonly path: string;
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
  /** Final models' files to measure (a separate list: agents that predate it never see them). */
  readonly modelFiles: readonly ModelFileVerificationRequest[];
  readonly calibration: readonly CalibrationWorkItem[];
}

/** The API path a device agent downloads a final model's file of a verification request from. */
export function verificationModelPath(deviceId: string, verificationId: string): string {
  return `/v1/devices/${encodeURIComponent(deviceId)}/verifications/${encodeURIComponent(verificationId)}/model`;
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
