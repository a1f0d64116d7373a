import { Inject, Injectable } from '@nestjs/common';
import {
  CalibrationPolicy,
  DevicePredictor,
  DeviceRows,
  buildDevicePredictor,
} from '@edgenas/latency-predictor';
import { MacroConfig } from '@edgenas/search-space';
import { Repositories, loadDeviceRows } from '@edgenas/storage';
import { notFound } from '../common/api-error';
import { CALIBRATION_POLICY, REPOSITORIES } from '../tokens';

/** Storage's rows of a device turned into predictors (404 naming `field` for an unknown device). */
@Injectable()
export class DevicePredictors {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CALIBRATION_POLICY) readonly policy: CalibrationPolicy,
  ) {}

  async rows(deviceId: string, field = 'deviceId'): Promise<DeviceRows> {
    const rows = await loadDeviceRows(this.repos, deviceId);
    if (!rows) throw notFound(`unknown device "${deviceId}"`, field);
    return rows;
  }

  build(rows: DeviceRows, config: MacroConfig, now = new Date()): DevicePredictor {
    return buildDevicePredictor(rows, config, { now, policy: this.policy });
  }

  async forGeometry(deviceId: string, config: MacroConfig, field = 'deviceId'): Promise<DevicePredictor> {
    return this.build(await this.rows(deviceId, field), config);
  }
}
