import * as os from 'node:os';
import { DeviceProfile } from '@edgenas/latency-predictor';
import { ortVersion } from './ort-session';

/** Describes this machine and the runtime configuration the agent benchmarks with. */
export function describeDevice(name: string, threads: number): DeviceProfile {
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
  };
}

/** Default device name: host name and thread count (1 and 2 threads on one CPU are two profiles). */
export function defaultDeviceName(threads: number): string {
  return `${os.hostname()}-cpu-t${threads}`;
}
