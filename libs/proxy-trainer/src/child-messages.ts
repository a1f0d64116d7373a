import type { BackendSelection } from './backend';
import type { ProxyTrainingRequest, ProxyTrainingResult, TrainingProgress } from './request';
import type {
  SupernetCheckpoint,
  SupernetTrainingProgress,
  SupernetTrainingRequest,
  SupernetTrainingResult,
} from './supernet/train-supernet';
import type { SubnetScoringRequest, SubnetScoringResult } from './supernet/score-subnets';

/** What a supernet training child is told besides the request (files and checkpoint policy). */
export interface SupernetChildOptions {
  readonly outputPath: string;
  readonly checkpointPath?: string;
  readonly resumeFrom?: string;
  readonly checkpointIntervalMs?: number;
  readonly checkpointEverySteps?: number;
  readonly stopAtStep?: number;
}

/** What a stand-alone training child is told besides the request (files and checkpoint policy). */
export interface StandaloneChildOptions {
  /** Where the trained weights are written. */
  readonly weightsPath?: string;
  readonly checkpointPath?: string;
  readonly resumeFrom?: string;
  readonly checkpointIntervalMs?: number;
  readonly checkpointEverySteps?: number;
}

/** Parent → child: the one job the child runs. */
export type JobMessage =
  | {
      readonly type: 'train';
      readonly request: ProxyTrainingRequest;
      readonly options?: StandaloneChildOptions;
    }
  | {
      readonly type: 'train-supernet';
      readonly request: SupernetTrainingRequest;
      readonly options: SupernetChildOptions;
    }
  | { readonly type: 'score-subnets'; readonly request: SubnetScoringRequest };

/** Kept for callers of the proxy-training message alone. */
export type TrainMessage = Extract<JobMessage, { type: 'train' }>;

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** Child → parent. */
export type ChildMessage =
  | { readonly type: 'progress'; readonly progress: TrainingProgress }
  | { readonly type: 'supernet-progress'; readonly progress: SupernetTrainingProgress }
  | { readonly type: 'checkpoint'; readonly checkpoint: SupernetCheckpoint }
  | { readonly type: 'resume-refused'; readonly reason: string }
  | { readonly type: 'scoring-progress'; readonly done: number; readonly total: number }
  | {
      readonly type: 'result';
      readonly result: ProxyTrainingResult | SupernetTrainingResult | SubnetScoringResult;
    }
  | { readonly type: 'error'; readonly error: SerializedError };

/** Backend probe child → parent. */
export type ProbeMessage =
  | { readonly type: 'backend'; readonly selection: BackendSelection }
  | { readonly type: 'backend-error'; readonly message: string };
