import { DeviceRows } from '@edgenas/contracts';
import { Repositories } from './repositories';

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
  // A final model's file (trained weights, or INT8) is not the float network the predictor prices: not calibrated on.
  return {
    deviceId,
    profile: device.profile,
    blocks,
    architectures: architectures.filter((m) => m.modelFile === undefined),
  };
}
