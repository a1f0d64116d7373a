import * as os from 'node:os';
import { DEFAULT_PRECISION, DevicePrecision } from '@edgenas/contracts';
import { DeviceProfile } from '@edgenas/latency-predictor';
import { ortVersion } from './ort-session';

/** Describes this machine and the runtime configuration (and precision) the agent benchmarks with. */
export function describeDevice(
  name: string,
  threads: number,
  precision: DevicePrecision = DEFAULT_PRECISION,
): DeviceProfile {
  const cpus = os.cpus();
  return {
    name,
    hardware: {
      cpuModel: cpus[0]?.model.trim() || 'unknown',
      cores: cpus.length,
      memoryBytes: os.totalmem(),
      os: `${os.platform()} ${os.release()}`,
      arch: os.arch(),
    },
    runtime: {
      engine: 'onnxruntime-node',
      engineVersion: ortVersion(),
      executionProvider: 'cpu',
      threads,
    },
    // fp32 is said by leaving it out, so an fp32 agent registers exactly as agents did before precisions existed
    ...(precision === DEFAULT_PRECISION ? {} : { precision }),
  };
}

/**
 * Default device name: host name, thread count and, for int8, the precision (1 and 2 threads, fp32 and int8 on one
 * CPU are four profiles).
 */
export function defaultDeviceName(threads: number, precision: DevicePrecision = DEFAULT_PRECISION): string {
  return `${os.hostname()}-cpu-t${threads}${precision === DEFAULT_PRECISION ? '' : `-${precision}`}`;
}
