/**
 * What the API and the worker agree on: workflow and task-queue names, workflow input/output, queries and
 * signals. Types and constants only — the API imports this, never workflow code.
 */

export const TASK_QUEUES = {
  /** Workflows and light activities (latency prediction, recording, ONNX export, verification requests). */
  light: 'edgenas-light',
  /** Proxy training activities: CPU-bound, scaled out on other machines. */
  training: 'edgenas-training',
} as const;

export const NAS_JOB_WORKFLOW = 'nasJob';
/** Query returning `NasJobProgress`. */
export const PROGRESS_QUERY = 'progress';

export type SearchStrategy = 'nsga2' | 'evolution' | 'random';

export type ProxyDatasetSpec =
  | { readonly kind: 'fashion-mnist'; readonly trainSize: number; readonly valSize: number }
  | { readonly kind: 'image-folder'; readonly path: string; readonly valFraction: number }
  | { readonly kind: 'synthetic'; readonly trainSize: number; readonly valSize: number };

export interface ProxyTrainingSpec {
  readonly dataset: ProxyDatasetSpec;
  /** Training budget: epochs over the training subset (or `steps` when set). */
  readonly epochs: number;
  readonly steps?: number;
  readonly batchSize: number;
  /** Square input resolution of the proxy geometry. */
  readonly resolution: number;
}

export interface SearchBudget {
  readonly generations: number;
  readonly population: number;
  /** Hard cap on proxy-trained candidates over the whole job. */
  readonly maxTrainedCandidates: number;
  /** Wall-clock limit of the search in seconds; the job returns its front so far when it runs out. */
  readonly wallClockSeconds: number;
}

export interface NasJobInput {
  readonly jobId: string;
  /** Target device ids; the latency objective is the worst predicted latency over them. */
  readonly deviceIds: readonly string[];
  readonly latencyBudgetMs: number;
  /** Deployment geometry: macro config name plus input shape and classes. */
  readonly space: string;
  readonly input: { readonly height: number; readonly width: number; readonly channels: number };
  readonly classes: number;
  readonly proxy: ProxyTrainingSpec;
  readonly budget: SearchBudget;
  readonly strategy: SearchStrategy;
  readonly seed: number;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface CandidateSummary {
  readonly architectureId: string;
  /** Compact architecture string (see @edgenas/search-space formatArchitecture). */
  readonly architecture: string;
  readonly accuracy: number;
  /** Worst predicted latency over the job's devices, ms. */
  readonly predictedLatencyMs: number;
  readonly predictedLatencyByDevice: Readonly<Record<string, number>>;
  /** Measured end to end by a device agent, where one verified it. */
  readonly measuredLatencyByDevice?: Readonly<Record<string, number>>;
  readonly macs: number;
  readonly params: number;
}

export interface NasJobProgress {
  readonly status: JobStatus;
  readonly generation: number;
  readonly generations: number;
  readonly trained: number;
  readonly rejectedOverBudget: number;
  readonly front: readonly CandidateSummary[];
  readonly hypervolume: number;
}

export interface NasJobResult {
  readonly front: readonly CandidateSummary[];
  readonly trained: number;
  readonly hypervolume: number;
  readonly stoppedBy: 'budget' | 'wall-clock' | 'max-candidates';
}
