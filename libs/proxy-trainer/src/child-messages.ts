import type { BackendSelection } from './backend';
import type { ProxyTrainingRequest, ProxyTrainingResult, TrainingProgress } from './request';

/** Parent → child. */
export interface TrainMessage {
  readonly type: 'train';
  readonly request: ProxyTrainingRequest;
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** Child → parent. */
export type ChildMessage =
  | { readonly type: 'progress'; readonly progress: TrainingProgress }
  | { readonly type: 'result'; readonly result: ProxyTrainingResult }
  | { readonly type: 'error'; readonly error: SerializedError };

/** Backend probe child → parent. */
export type ProbeMessage =
  | { readonly type: 'backend'; readonly selection: BackendSelection }
  | { readonly type: 'backend-error'; readonly message: string };
