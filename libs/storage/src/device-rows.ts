import { DeviceRows } from '@edgenas/contracts';
import { InputShape, MacroConfig, resolveSpaceName, withGeometry } from '@edgenas/search-space';
import { Repositories } from './repositories';

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

/** The device's rows, read in one go; undefined for an unknown device. */
export async function loadDeviceRows(
  repos: Pick<Repositories, 'devices' | 'measurements'>,
  deviceId: string,
): Promise<DeviceRows | undefined> {
  const device = await repos.devices.get(deviceId);
  if (!device) return undefined;
  const [blocks, architectures] = await Promise.all([
    repos.measurements.listBlockMeasurements(deviceId),
    repos.measurements.listArchitectureMeasurements(deviceId),
  ]);
  return { deviceId, profile: device.profile, blocks, architectures };
}
