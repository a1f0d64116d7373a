import {
  BaselineSummary,
  CandidateSummary,
  FinalModelProgress,
  FinalModelStatus,
  ModelCard,
  JobStatus,
  NasJobProgress,
  NasJobResult,
} from '@edgenas/contracts';

/** What the CLI reads of the API's answers (the API's OpenAPI document has them in full). */
/** A user API key as GET /v1/keys lists it (`key`, the secret, only in the answer to its creation). */
export interface KeyView {
  readonly id: string;
  readonly name: string;
  readonly source: 'stored' | 'environment';
  readonly createdAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly current: boolean;
  readonly key?: string;
}

export interface DeviceView {
  readonly id: string;
  readonly name: string;
  readonly profile: {
    readonly name: string;
    readonly hardware?: { readonly cpuModel?: string; readonly cores?: number };
    readonly runtime?: {
      readonly engine?: string;
      readonly executionProvider?: string;
      readonly threads?: number;
    };
  };
  /** fp32 or int8 (older APIs do not say: fp32). */
  readonly precision?: string;
  readonly createdAt: string;
}

export interface JobView {
  readonly id: string;
  readonly status: JobStatus;
  readonly workflowStatus: string | null;
  readonly input: {
    readonly deviceIds: readonly string[];
    readonly latencyBudgetMs: number;
    readonly space: string;
    readonly budget: { readonly generations: number; readonly maxTrainedCandidates: number };
    readonly evaluation?: { readonly mode: string };
  };
  readonly progress: NasJobProgress | null;
  readonly result: NasJobResult | null;
  readonly error: string | null;
  readonly createdAt: string;
}

export interface JobListItem {
  readonly id: string;
  readonly status: JobStatus;
  readonly space: string;
  readonly deviceIds: readonly string[];
  readonly latencyBudgetMs: number;
  readonly error: string | null;
  readonly createdAt: string;
}

export type ParetoMember = CandidateSummary & { readonly modelUrl: string | null };

export interface ParetoView {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly final: boolean;
  readonly latencyBudgetMs: number;
  readonly evaluationMode: string;
  readonly hypervolume: number | null;
  readonly front: readonly ParetoMember[];
  readonly searchFront: readonly ParetoMember[] | null;
  readonly baselines: readonly (BaselineSummary & { readonly modelUrl: string | null })[];
  readonly hypervolumeHistory?: readonly number[];
}

export interface LatencyRangeView {
  readonly deviceId: string;
  readonly space: string;
  readonly fastestAchievableMs: number;
  readonly samples: number;
  readonly seed: number;
  readonly sampledFastestMs: number;
  readonly p10Ms: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly sampledSlowestMs: number;
  readonly suggestedBudgetMs: number;
  readonly calibrated: boolean;
}

export interface LutView {
  readonly space: string;
  readonly coverage: { readonly covered: number; readonly total: number; readonly ratio: number } | null;
  readonly calibration: { readonly samples: number; readonly stale: boolean } | null;
  readonly calibrationSetMeasured: number;
  readonly calibrationNote: string | null;
}

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** `GET /v1/datasets`. */
export interface DatasetView {
  readonly name: string;
  readonly path: string;
  readonly images: number;
  readonly classes: readonly { readonly name: string; readonly images: number }[];
}

export interface FinalModelView {
  readonly id: string;
  readonly jobId: string;
  readonly architectureId: string;
  readonly status: FinalModelStatus;
  readonly progress: FinalModelProgress | null;
  readonly card: ModelCard | null;
  readonly error: string | null;
  readonly files: { readonly float: string | null; readonly int8: string | null };
  readonly createdAt: string;
}
