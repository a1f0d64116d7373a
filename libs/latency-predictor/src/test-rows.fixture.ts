// Synthetic measurement rows for the predictor's specs: block costs from a MAC formula.
import { Architecture, BlockSignature, MacroConfig, formatArchitecture } from '@edgenas/search-space';
import { signatureFeatures } from './features';
import { spaceSignatures } from './lut';
import {
  ArchitectureMeasurement,
  ArchitectureMeasurementPurpose,
  BlockMeasurement,
  DeviceProfile,
} from './measurement';

export const PROFILE: DeviceProfile = {
  name: 'test-cpu-1t',
  hardware: { cpuModel: 'Test CPU', cores: 2, memoryBytes: 4e9, os: 'linux', arch: 'x64' },
  runtime: { engine: 'onnxruntime-node', engineVersion: '1.30.0', executionProvider: 'cpu', threads: 1 },
};

export const T0 = '2026-03-01T10:00:00.000Z';

/** Minutes after T0, as ISO 8601. */
export function at(minutes: number): string {
  return new Date(Date.parse(T0) + minutes * 60_000).toISOString();
}

const STATS = { rounds: 5, repeatsPerRound: 20, warmupRuns: 3, agentVersion: 'test' } as const;

export function blockRow(sig: BlockSignature, id: string, measuredAt = T0): BlockMeasurement {
  const estimateMs = 0.01 + signatureFeatures(sig).macs * 2e-8;
  return {
    id,
    signature: sig,
    estimateMs,
    medianMs: estimateMs,
    p10Ms: estimateMs,
    p90Ms: estimateMs * 1.1,
    overheadMs: 0.005,
    measuredAt,
    driftFlagged: false,
    ...STATS,
  };
}

/** One row per signature of the space (a complete LUT). */
export function lutRows(config: MacroConfig, prefix = 'b'): BlockMeasurement[] {
  return spaceSignatures(config).map((s, i) => blockRow(s, `${prefix}${i}`));
}

export function archRow(
  config: MacroConfig,
  arch: Architecture,
  estimateMs: number,
  opts: {
    id: string;
    measuredAt?: string;
    purpose?: ArchitectureMeasurementPurpose;
    verificationId?: string;
    driftFlagged?: boolean;
  },
): ArchitectureMeasurement & { verificationId?: string } {
  return {
    id: opts.id,
    space: config.name,
    architecture: formatArchitecture(arch, config),
    estimateMs,
    medianMs: estimateMs,
    p10Ms: estimateMs,
    p90Ms: estimateMs * 1.1,
    measuredAt: opts.measuredAt ?? T0,
    driftFlagged: opts.driftFlagged ?? false,
    ...(opts.purpose ? { purpose: opts.purpose } : {}),
    ...(opts.verificationId ? { verificationId: opts.verificationId } : {}),
    ...STATS,
  };
}
