import {
  Architecture,
  MacroConfig,
  architectureId,
  fnv1a64Hex,
  formatArchitecture,
  parseArchitecture,
  signatureKey,
} from '@edgenas/search-space';
import { Calibration, CalibrationSample, fitCalibration } from './calibration';
import {
  CALIBRATION_SET_SEED,
  CALIBRATION_SET_SIZE,
  REFERENCE_NETWORKS,
  chooseCalibrationSet,
  chooseReferenceNetworks,
} from './calibration-set';
import type { CalibrationWorkItem } from '@edgenas/contracts';
import { ArchitectureMeasurementPurpose, ArchitectureRow, DeviceProfile, DeviceRows } from './measurement';
import { DRIFT_WEIGHT, LatencyLut, buildLut, missingSignatures, spaceSignatures } from './lut';
import { MissingSignaturesError, predictLatency } from './predict';
import { median } from './stats';

/** Fewer end-to-end measured architectures than this: predictions stay uncalibrated (the fit needs 3). */
export const MIN_CALIBRATION_ARCHITECTURES = 3;
/** Reference networks with a re-measurement needed before their drift scale is trusted. */
export const MIN_REFERENCES_FOR_SCALE = 3;

/** When reference networks are due again, when a calibration is stale, and what the set is made of. */
export interface CalibrationPolicy {
  /** The reference networks are re-measured when their last measurement is this old, ms. */
  readonly refreshIntervalMs: number;
  /** A calibration whose last end-to-end check is older than this is stale, ms. */
  readonly staleAfterMs: number;
  readonly calibrationSetSize: number;
  readonly referenceNetworks: number;
  readonly seed: number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 30 * 60_000;

/** The policy for a refresh interval: stale after two intervals (one missed refresh is tolerated). */
export function calibrationPolicy(refreshIntervalMs = DEFAULT_REFRESH_INTERVAL_MS): CalibrationPolicy {
  if (!(refreshIntervalMs > 0) || !Number.isFinite(refreshIntervalMs))
    throw new RangeError(`refreshIntervalMs must be a positive number, got ${refreshIntervalMs}`);
  return {
    refreshIntervalMs,
    staleAfterMs: 2 * refreshIntervalMs,
    calibrationSetSize: CALIBRATION_SET_SIZE,
    referenceNetworks: REFERENCE_NETWORKS,
    seed: CALIBRATION_SET_SEED,
  };
}

export const DEFAULT_CALIBRATION_POLICY: CalibrationPolicy = calibrationPolicy();

/** The policy for a refresh interval in minutes (undefined: the default). */
export function calibrationPolicyFromMinutes(minutes: number | undefined): CalibrationPolicy {
  return minutes === undefined ? DEFAULT_CALIBRATION_POLICY : calibrationPolicy(minutes * 60_000);
}

/** Which calibration a prediction used, and whether it still holds. */
export interface CalibrationInfo {
  /**
   * Hash of the LUT version and the ids of every end-to-end row used: the same version gives the same
   * prediction for the same architecture.
   */
  readonly version: string;
  /** Calibration model (see fitCalibration). */
  readonly model: string;
  /** End-to-end measured architectures the base calibration was fitted on. */
  readonly samples: number;
  /** The newest measurement the base fit rests on (ISO 8601): a property of the rows, not of the clock. */
  readonly fittedAt: string;
  /**
   * Median ratio of the reference networks' latest latency to their latency when the fit's rows were measured;
   * applied over the base calibration (1 until references were re-measured).
   */
  readonly driftScale: number;
  /** Reference networks whose re-measurement the drift scale used. */
  readonly referenceSamples: number;
  /** The last end-to-end evidence: the newest reference re-measurement used, else `fittedAt`. */
  readonly checkedAt: string;
  /** The newest drift-flagged measurement of the device after `checkedAt`, if any. */
  readonly driftFlaggedAt: string | null;
  readonly stale: boolean;
  readonly staleReason: string | null;
}

/** Everything needed to price architectures of one geometry on one device, built from raw rows. */
export interface DevicePredictor {
  readonly deviceId: string;
  readonly profile: DeviceProfile;
  readonly config: MacroConfig;
  /** LUT over the device's block rows of this geometry's signatures. */
  readonly lut: LatencyLut;
  /** Hash of the ids of the block rows the LUT was built from. */
  readonly lutVersion: string;
  /** The calibration predictions use (base fit × drift scale); undefined while there are too few samples. */
  readonly calibration?: Calibration;
  readonly calibrationInfo?: CalibrationInfo;
  /** Distinct architectures measured end to end on this geometry that the fit could use. */
  readonly calibrationArchitectures: number;
  /** Architecture ids of the calibration-set members (rows with purpose `calibration`) measured here. */
  readonly calibrationSetMeasured: readonly string[];
  /** The set members re-measured to follow drift (architecture strings, staged by the config). */
  readonly referenceNetworks: readonly string[];
  /** Why there is no calibration (too few samples, or the fit refused them). */
  readonly calibrationNote?: string;
}

function version(parts: readonly string[]): string {
  return fnv1a64Hex(encodeURIComponent(parts.join('\n')));
}

function newest(times: readonly string[]): string {
  return times.reduce((a, b) => (b > a ? b : a), '');
}

/** A calibration's predictions multiplied by `scale` (every model is linear in its coefficients). */
function scaled(calibration: Calibration, scale: number): Calibration {
  if (scale === 1) return calibration;
  const coefficients: Record<string, number> = {};
  for (const [k, v] of Object.entries(calibration.coefficients)) coefficients[k] = (v ?? 0) * scale;
  return { ...calibration, intercept: calibration.intercept * scale, coefficients };
}

/**
 * Staleness rule: stale when the device flagged drift after the last end-to-end check, or when that check is
 * older than `staleAfterMs` at `now`.
 */
export function calibrationStaleness(
  checkedAt: string,
  driftFlaggedAt: string | null,
  now: Date,
  policy: Pick<CalibrationPolicy, 'staleAfterMs'>,
): { stale: boolean; staleReason: string | null } {
  if (driftFlaggedAt !== null && driftFlaggedAt > checkedAt) {
    return {
      stale: true,
      staleReason: `the device flagged drift at ${driftFlaggedAt}, after the last end-to-end check at ${checkedAt}`,
    };
  }
  const ageMs = now.getTime() - Date.parse(checkedAt);
  if (ageMs > policy.staleAfterMs) {
    const minutes = (ms: number) => Math.round(ms / 60_000);
    return {
      stale: true,
      staleReason:
        `the last end-to-end check was ${minutes(ageMs)} min ago (at ${checkedAt}); ` +
        `calibrations older than ${minutes(policy.staleAfterMs)} min are stale`,
    };
  }
  return { stale: false, staleReason: null };
}

interface Sample {
  readonly id: string;
  readonly architecture: Architecture;
  readonly text: string;
  readonly measuredMs: number;
  readonly purpose?: ArchitectureMeasurementPurpose;
  readonly rows: readonly ArchitectureRow[];
}

/** Groups rows by architecture (whatever their text's stage grouping); sorted by id so order never matters. */
function groupByArchitecture(rows: readonly ArchitectureRow[], config: MacroConfig): Sample[] {
  const groups = new Map<string, { architecture: Architecture; rows: ArchitectureRow[] }>();
  for (const row of rows) {
    const architecture = parseArchitecture(row.architecture, config);
    const id = architectureId(architecture);
    const g = groups.get(id);
    if (g) g.rows.push(row);
    else groups.set(id, { architecture, rows: [row] });
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, g]) => ({
      id,
      architecture: g.architecture,
      text: formatArchitecture(g.architecture, config),
      measuredMs: median(g.rows.map((r) => r.estimateMs)),
      purpose: g.rows.some((r) => r.purpose === 'calibration') ? 'calibration' : undefined,
      rows: g.rows,
    }));
}

/**
 * Builds a device's predictor for one geometry from the rows storage returned: a pure function of (rows,
 * config, now, policy), so the API and the worker price architectures identically and the same rows always
 * give the same predictions.
 *
 * - LUT: robust aggregation of the block rows of the geometry's signatures.
 * - Base calibration: fitted on this geometry's calibration-set rows and ad-hoc uploads (one sample per
 *   architecture: the median of its rows; weight `DRIFT_WEIGHT` when all its rows were drift-flagged).
 *   Verification answers are left out (they check predictions, and feeding them back made predictions move
 *   between jobs), and so are reference re-measurements (they only scale). Only architectures the LUT cannot
 *   price are skipped; any other error is thrown.
 * - Drift: the reference networks (`chooseReferenceNetworks` of the measured set) each compare their latest
 *   `reference` row with their fitted sample; the median ratio scales the base calibration.
 * - Staleness at `now` by `calibrationStaleness`.
 */
export function buildDevicePredictor(
  rows: DeviceRows,
  config: MacroConfig,
  opts: { readonly now: Date; readonly policy?: CalibrationPolicy },
): DevicePredictor {
  const policy = opts.policy ?? DEFAULT_CALIBRATION_POLICY;
  const keys = new Set(spaceSignatures(config).map(signatureKey));
  const blockRows = rows.blocks.filter((r) => keys.has(signatureKey(r.signature)));
  const lut = buildLut(blockRows);
  const lutVersion = version(blockRows.map((r) => r.id).sort());

  const spaceRows = rows.architectures.filter((r) => r.space === config.name);
  const fitRows = spaceRows.filter((r) => r.purpose !== 'reference' && !r.verificationId);
  const samples: (Sample & { readonly calibrationSample: CalibrationSample })[] = [];
  for (const s of groupByArchitecture(fitRows, config)) {
    try {
      const features = predictLatency(s.architecture, config, lut).features;
      const weight = s.rows.every((r) => r.driftFlagged) ? DRIFT_WEIGHT : 1;
      samples.push({ ...s, calibrationSample: { features, measuredMs: s.measuredMs, weight } });
    } catch (err) {
      // An architecture the LUT cannot price yet cannot calibrate; anything else is a bug and surfaces.
      if (!(err instanceof MissingSignaturesError)) throw err;
    }
  }
  const setMembers = samples.filter((s) => s.purpose === 'calibration');
  const references = chooseReferenceNetworks(
    setMembers.map((s) => ({ ...s, architecture: s.text })),
    policy.referenceNetworks,
  );
  const base = {
    deviceId: rows.deviceId,
    profile: rows.profile,
    config,
    lut,
    lutVersion,
    calibrationArchitectures: samples.length,
    calibrationSetMeasured: setMembers.map((s) => s.id),
    referenceNetworks: references.map((r) => r.architecture),
  };
  if (samples.length < MIN_CALIBRATION_ARCHITECTURES) {
    return {
      ...base,
      calibrationNote: `${samples.length} of ${MIN_CALIBRATION_ARCHITECTURES} end-to-end measured architectures needed for calibration on ${config.name}`,
    };
  }
  let fitted: Calibration;
  try {
    fitted = fitCalibration(samples.map((s) => s.calibrationSample));
  } catch (err) {
    return {
      ...base,
      calibrationNote: `calibration fit failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }

  // Drift: each reference network's latest re-measurement against its fitted sample.
  const referenceRows = spaceRows.filter((r) => r.purpose === 'reference');
  const latestByArch = new Map<string, ArchitectureRow>();
  for (const group of groupByArchitecture(referenceRows, config)) {
    const latest = [...group.rows].sort((a, b) =>
      a.measuredAt === b.measuredAt ? (a.id < b.id ? 1 : -1) : a.measuredAt < b.measuredAt ? 1 : -1,
    )[0];
    latestByArch.set(group.id, latest);
  }
  const ratios: number[] = [];
  const usedReferences: ArchitectureRow[] = [];
  for (const r of references) {
    const latest = latestByArch.get(r.id);
    if (!latest) continue;
    ratios.push(latest.estimateMs / r.measuredMs);
    usedReferences.push(latest);
  }
  const scaleUsed = ratios.length >= MIN_REFERENCES_FOR_SCALE;
  const driftScale = scaleUsed ? median(ratios) : 1;
  const fitIds = samples.flatMap((s) => s.rows.map((r) => r.id));
  const fittedAt = newest(samples.flatMap((s) => s.rows.map((r) => r.measuredAt)));
  const checkedAt = scaleUsed ? newest(usedReferences.map((r) => r.measuredAt)) : fittedAt;
  const flagged = [...rows.blocks, ...rows.architectures]
    .filter((r) => r.driftFlagged && r.measuredAt > checkedAt)
    .map((r) => r.measuredAt);
  const driftFlaggedAt = flagged.length > 0 ? newest(flagged) : null;
  const calibrationInfo: CalibrationInfo = {
    version: version([
      lutVersion,
      ...fitIds.sort(),
      '#',
      ...(scaleUsed ? usedReferences.map((r) => r.id).sort() : []),
    ]),
    model: fitted.model,
    samples: fitted.samples,
    fittedAt,
    driftScale,
    referenceSamples: scaleUsed ? ratios.length : 0,
    checkedAt,
    driftFlaggedAt,
    ...calibrationStaleness(checkedAt, driftFlaggedAt, opts.now, policy),
  };
  return { ...base, calibration: scaled(fitted, driftScale), calibrationInfo };
}

/**
 * End-to-end work a device's agent should do for one geometry, from its predictor:
 * - nothing while the LUT cannot price the whole space (blocks come first);
 * - the calibration set's unmeasured members until `calibrationSetSize` members are measured;
 * - then the reference networks, whenever the device flagged drift after the last check or the last check is
 *   `refreshIntervalMs` old.
 */
export function calibrationWork(
  predictor: DevicePredictor,
  now: Date,
  policy: CalibrationPolicy = DEFAULT_CALIBRATION_POLICY,
): CalibrationWorkItem[] {
  const { config, lut } = predictor;
  if (missingSignatures(lut, config).length > 0) return [];
  const space = config.name;
  const measured = new Set(predictor.calibrationSetMeasured);
  if (measured.size < policy.calibrationSetSize) {
    // Resumes the same set after an interrupted upload; should the LUT have changed meanwhile, the count still
    // bounds the set's size.
    return chooseCalibrationSet(config, lut, { size: policy.calibrationSetSize, seed: policy.seed })
      .filter((m) => !measured.has(architectureId(m.architecture)))
      .slice(0, policy.calibrationSetSize - measured.size)
      .map((m) => ({
        space,
        architecture: formatArchitecture(m.architecture, config),
        purpose: 'calibration',
      }));
  }
  const info = predictor.calibrationInfo;
  if (!info) return [];
  const due =
    (info.driftFlaggedAt !== null && info.driftFlaggedAt > info.checkedAt) ||
    now.getTime() - Date.parse(info.checkedAt) >= policy.refreshIntervalMs;
  if (!due) return [];
  return predictor.referenceNetworks.map((architecture) => ({ space, architecture, purpose: 'reference' }));
}

/** Which LUT and calibration a prediction was made with: what a priced candidate records per device. */
export interface PricedWith {
  readonly lutVersion: string;
  /** Null while uncalibrated. */
  readonly calibrationVersion: string | null;
  readonly calibrationStale: boolean;
  readonly staleReason: string | null;
}

export function pricedWith(p: DevicePredictor): PricedWith {
  const info = p.calibrationInfo;
  return {
    lutVersion: p.lutVersion,
    calibrationVersion: info?.version ?? null,
    calibrationStale: info?.stale ?? false,
    staleReason: info?.staleReason ?? null,
  };
}
