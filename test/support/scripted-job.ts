import { BaselineSummary, CandidateSummary, NasJobProgress, NasJobResult } from '@edgenas/contracts';
import {
  PROXY_28,
  architectureId,
  createRng,
  formatArchitecture,
  sampleArchitecture,
} from '@edgenas/search-space';
import { RecordingJobWorkflows } from './api-fixtures';

/**
 * A workflow gateway for suites that drive a job's life by hand (no Temporal, no worker): it records the
 * start (and resolves `started`), reports the workflow as running and answers the progress query with
 * whatever the test set last. The test writes statuses and results into storage as a worker would.
 */
export class ScriptedJobWorkflows extends RecordingJobWorkflows {
  current: NasJobProgress | undefined;
  private waiters: ((jobId: string) => void)[] = [];

  override async start(input: unknown): Promise<void> {
    await super.start(input);
    const jobId = (input as { jobId: string }).jobId;
    for (const w of this.waiters.splice(0)) w(jobId);
  }

  /** Resolves with the id of the next job started. */
  nextStart(): Promise<string> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  override async progress(): Promise<NasJobProgress | undefined> {
    return this.current;
  }
}

/** Real proxy-28 architectures (seeded), so strings parse and block diagrams can be drawn. */
export function sampleMembers(
  n: number,
  seed: number,
  deviceId: string,
  latencies: readonly number[],
  accuracies: readonly number[],
): CandidateSummary[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const arch = sampleArchitecture(PROXY_28, rng);
    return {
      architectureId: architectureId(arch),
      architecture: formatArchitecture(arch, PROXY_28),
      accuracy: accuracies[i],
      predictedLatencyMs: latencies[i],
      predictedLatencyByDevice: { [deviceId]: latencies[i] },
      macs: 1e6 * (i + 1),
      params: 2e4 * (i + 1),
    };
  });
}

/** A supernet-mode job's running progress and final result, shaped as the worker reports them. */
export function scriptedJob(deviceId: string, budgetMs: number) {
  const searchFront = sampleMembers(
    4,
    11,
    deviceId,
    [0.3, 0.5, 0.7, 0.9].map((f) => f * budgetMs),
    [0.62, 0.7, 0.74, 0.78],
  ).map((c): CandidateSummary => ({ ...c, accuracySource: 'supernet' }));
  const front: CandidateSummary[] = searchFront.map((c, i) => ({
    ...c,
    accuracySource: 'retrained',
    supernetAccuracy: c.accuracy,
    accuracy: c.accuracy + 0.05,
    seedAccuracies: [c.accuracy + 0.04, c.accuracy + 0.06],
    accuracySd: 0.014,
    // the device's agent verified one member: measured a little slower than predicted
    ...(i === 1 ? { measuredLatencyByDevice: { [deviceId]: c.predictedLatencyMs * 1.1 } } : {}),
    ...(i === 2 ? { tiedWith: [searchFront[3].architectureId] } : {}),
    ...(i === 3 ? { tiedWith: [searchFront[2].architectureId] } : {}),
  }));
  const [slow] = sampleMembers(1, 99, deviceId, [1.4 * budgetMs], [0.8]);
  const baselines: BaselineSummary[] = [
    {
      ...slow,
      accuracySource: 'retrained',
      seedAccuracies: [0.79, 0.81],
      accuracySd: 0.014,
      baseline: 'mobilenetv2-like',
      coveredByFront: false,
    },
  ];
  const progress = (generation: number): NasJobProgress => ({
    status: 'running',
    generation,
    generations: 8,
    trained: 0,
    rejectedOverBudget: 3 * generation,
    front: searchFront.slice(0, Math.min(4, generation + 1)),
    hypervolume: 0.1 * generation,
    activity: `scoring ${generation * 32}/256`,
    hypervolumeHistory: Array.from({ length: generation }, (_, g) => 0.1 * (g + 1)),
  });
  const result: NasJobResult = {
    front,
    trained: 0,
    scored: 256,
    hypervolume: 0.61,
    evaluationMode: 'supernet',
    searchFront,
    baselines,
    supernet: { key: 'supernet-k', steps: 1200, reused: false, trainingMs: 60000, sha256: 'abc' },
    stoppedBy: 'budget',
  };
  return { front, searchFront, baselines, progress, result };
}
