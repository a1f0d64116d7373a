import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { FinalTrainingInput, NasJobProgress } from '@edgenas/contracts';
import { signatureFeatures } from '@edgenas/latency-predictor';
import { BlockMeasurement, DeviceProfile } from '@edgenas/latency-predictor/measurement';
import { BlockSignature } from '@edgenas/search-space';
import { ApiAppOptions, createApiApp } from '../../apps/api/src/app';
import { JobWorkflows } from '../../apps/api/src/jobs/job-workflows';
import { createScratchDatabase } from './scratch-database';

export const USER_KEY = 'api-e2e-user-key';

export const PROFILE: DeviceProfile = {
  name: 'e2e-cpu-1t',
  hardware: { cpuModel: 'E2E CPU', cores: 2, memoryBytes: 4_000_000_000, os: 'linux', arch: 'x64' },
  runtime: { engine: 'onnxruntime-node', engineVersion: '1.30.0', executionProvider: 'cpu', threads: 1 },
};

/**
 * A synthetic latency for a signature (not a measurement): proportional to its MACs plus a fixed overhead,
 * so sums and the fastest architecture are predictable from the same formula.
 */
export function syntheticLatencyMs(sig: BlockSignature): number {
  return 0.02 + signatureFeatures(sig).macs * 2e-7;
}

export const SYNTHETIC_OVERHEAD_MS = 0.01;

export function syntheticBlockRow(
  sig: BlockSignature,
  overrides: Partial<BlockMeasurement> = {},
): BlockMeasurement {
  const ms = syntheticLatencyMs(sig);
  return {
    id: randomUUID(),
    signature: sig,
    estimateMs: ms,
    medianMs: ms * 1.05,
    p10Ms: ms,
    p90Ms: ms * 1.2,
    rounds: 5,
    repeatsPerRound: 20,
    warmupRuns: 5,
    overheadMs: SYNTHETIC_OVERHEAD_MS,
    agentVersion: 'e2e-synthetic',
    measuredAt: '2026-01-01T00:00:00.000Z',
    driftFlagged: false,
    ...overrides,
  };
}

/** Workflow gateway for suites that do not exercise Temporal: records starts, never talks to a server. */
export class RecordingJobWorkflows implements JobWorkflows {
  readonly started: unknown[] = [];
  readonly finalTrainings: FinalTrainingInput[] = [];
  async start(input: unknown): Promise<void> {
    this.started.push(input);
  }
  async startFinalTraining(input: FinalTrainingInput): Promise<void> {
    this.finalTrainings.push(input);
  }
  async describe(): Promise<string | undefined> {
    return 'running';
  }
  async progress(): Promise<NasJobProgress | undefined> {
    return undefined;
  }
  async cancel(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface ApiTestContext {
  readonly app: INestApplication;
  readonly dir: string;
  readonly databaseUrl: string;
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

/** A rate limit no test reaches, for suites that send many requests under one key. */
export const UNLIMITED = { limit: 1_000_000_000, windowMs: 60_000 } as const;

/**
 * A real Nest app listening on `port` (this suite's range: 3100–3199), on a SQLite file in a fresh temp dir
 * (or a fresh PostgreSQL database: see createScratchDatabase), with `<dir>/datasets` as its dataset root.
 */
export async function startApiForTest(
  port: number,
  options: Partial<ApiAppOptions> = {},
): Promise<ApiTestContext> {
  const dir = mkdtempSync(join(tmpdir(), 'edgenas-api-e2e-'));
  const scratch = await createScratchDatabase(dir);
  const databaseUrl = scratch.url;
  const app = await createApiApp({
    databaseUrl,
    apiKeys: [USER_KEY],
    logger: false,
    workflows: options.temporal ? undefined : new RecordingJobWorkflows(),
    datasetsDirs: [join(dir, 'datasets')],
    ...options,
  });
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    dir,
    databaseUrl,
    http: () => request(url),
    async close() {
      await app.close();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function auth(key: string): [string, string] {
  return ['Authorization', `Bearer ${key}`];
}
