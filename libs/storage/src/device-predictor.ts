import {
  Calibration,
  CalibrationSample,
  DeviceProfile,
  LatencyLut,
  MissingSignaturesError,
  buildLut,
  fitCalibration,
  median,
  predictLatency,
} from '@edgenas/latency-predictor';
import {
  InputShape,
  MacroConfig,
  parseArchitecture,
  resolveSpaceName,
  withGeometry,
} from '@edgenas/search-space';
import { Db } from './database';
import { Repositories, createRepositories } from './repositories';

/** Fewer end-to-end measured architectures than this: predictions stay uncalibrated (the fit needs 3). */
export const MIN_CALIBRATION_ARCHITECTURES = 3;

/**
 * The deployment geometry a space name denotes: a macro config name (`proxy-28`), optionally re-shaped by
 * `input`/`classes`, or a canonical geometry name as `withGeometry` writes it (`fbnet-224@96x96x3-c10`).
 * Throws naming the unknown space.
 */
export function resolveGeometry(
  space: string,
  geometry: { input?: InputShape; classes?: number } = {},
): MacroConfig {
  return withGeometry(resolveSpaceName(space), geometry);
}

/** Everything needed to price architectures of one geometry on one device, built from stored raw rows. */
export interface DevicePredictor {
  readonly deviceId: string;
  readonly profile: DeviceProfile;
  readonly config: MacroConfig;
  /** LUT over all the device's block measurements (keys carry the geometry). */
  readonly lut: LatencyLut;
  /** Fitted on this geometry's end-to-end measurements; undefined while there are too few. */
  readonly calibration?: Calibration;
  /** Distinct architectures measured end to end on this geometry that the LUT can price. */
  readonly calibrationArchitectures: number;
  /** Why there is no calibration (too few samples, or the fit refused them). */
  readonly calibrationNote?: string;
}

/**
 * Builds a device's LUT (robust aggregation of every raw block row) and its calibration for `config` (one
 * sample per distinct architecture measured end to end on `config.name`: the median of its rows' estimates).
 * Returns undefined for an unknown device. The one place the API and the worker turn stored rows into a
 * predictor, so both price architectures identically.
 */
export async function loadDevicePredictor(
  repos: Pick<Repositories, 'devices' | 'measurements'>,
  deviceId: string,
  config: MacroConfig,
): Promise<DevicePredictor | undefined> {
  const device = await repos.devices.get(deviceId);
  if (!device) return undefined;
  const [blockRows, archRows] = await Promise.all([
    repos.measurements.listBlockMeasurements(deviceId),
    repos.measurements.listArchitectureMeasurements(deviceId, config.name),
  ]);
  const lut = buildLut(blockRows);

  const measuredByArch = new Map<string, number[]>();
  for (const row of archRows) {
    const list = measuredByArch.get(row.architecture);
    if (list) list.push(row.estimateMs);
    else measuredByArch.set(row.architecture, [row.estimateMs]);
  }
  const samples: CalibrationSample[] = [];
  for (const [text, values] of measuredByArch) {
    try {
      const arch = parseArchitecture(text, config);
      const uncalibrated = predictLatency(arch, config, lut);
      samples.push({ features: uncalibrated.features, measuredMs: median(values) });
    } catch (err) {
      // An architecture the LUT cannot price yet (or that no longer parses) cannot calibrate; skip it.
      if (!(err instanceof MissingSignaturesError) && !(err instanceof Error)) throw err;
    }
  }
  let calibration: Calibration | undefined;
  let calibrationNote: string | undefined;
  if (samples.length >= MIN_CALIBRATION_ARCHITECTURES) {
    try {
      calibration = fitCalibration(samples);
    } catch (err) {
      calibrationNote = `calibration fit failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  } else {
    calibrationNote = `${samples.length} of ${MIN_CALIBRATION_ARCHITECTURES} end-to-end measured architectures needed for calibration on ${config.name}`;
  }
  return {
    deviceId,
    profile: device.profile,
    config,
    lut,
    calibration,
    calibrationArchitectures: samples.length,
    calibrationNote,
  };
}

/**
 * `loadDevicePredictor` by database handle and space name (a macro config or canonical geometry name, see
 * `resolveGeometry`); throws for an unknown device.
 */
export async function loadDeviceLatencyModel(
  db: Db,
  deviceId: string,
  space: string | MacroConfig,
): Promise<DevicePredictor> {
  const config = typeof space === 'string' ? resolveGeometry(space) : space;
  const predictor = await loadDevicePredictor(createRepositories(db), deviceId, config);
  if (!predictor) throw new Error(`unknown device "${deviceId}"`);
  return predictor;
}

/** Just the device's LUT (every raw block row, robustly aggregated); undefined for an unknown device. */
export async function loadDeviceLut(
  repos: Pick<Repositories, 'devices' | 'measurements'>,
  deviceId: string,
): Promise<LatencyLut | undefined> {
  const device = await repos.devices.get(deviceId);
  if (!device) return undefined;
  return buildLut(await repos.measurements.listBlockMeasurements(deviceId));
}
