import { ApiClient, ApiError, RetryOptions, withRetry } from './api-client';
import { AgentStore, ArchitectureUpload, RegisteredDevice } from './store';
import { BlockMeasurement } from '@edgenas/latency-predictor';

/** Measurements per upload request (the API limits batch sizes). */
export const DEFAULT_SYNC_BATCH = 100;

export interface SyncResult {
  readonly accepted: number;
  readonly duplicates: number;
  /** Refused by the server as invalid; kept locally, not retried. */
  readonly rejected: number;
  readonly remaining: number;
}

/**
 * Uploads every queued measurement in batches. Each batch is retried with backoff while the server is
 * unreachable; if it stays unreachable the error propagates and the rest stays queued for the next pass.
 * Idempotent: a batch the server stored but whose answer was lost is re-sent with the same ids and counted
 * as duplicates.
 */
export async function syncPending(
  store: AgentStore,
  client: ApiClient,
  device: RegisteredDevice,
  opts: { readonly batchSize?: number; readonly retry?: RetryOptions } = {},
): Promise<SyncResult> {
  const batchSize = opts.batchSize ?? DEFAULT_SYNC_BATCH;
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  for (;;) {
    const batch = store.pending(batchSize);
    if (batch.length === 0) break;
    const ids = batch.map((m) => m.body.id);
    const blocks: BlockMeasurement[] = [];
    const architectures: ArchitectureUpload[] = [];
    for (const m of batch) {
      if (m.kind === 'block') blocks.push(m.body);
      else architectures.push(m.body);
    }
    try {
      const res = await withRetry(
        () =>
          client.upload(device.id, device.token, {
            ...(blocks.length ? { blocks } : {}),
            ...(architectures.length ? { architectures } : {}),
          }),
        opts.retry,
      );
      store.markSynced(ids);
      accepted += res.accepted;
      duplicates += res.duplicates;
    } catch (err) {
      if (err instanceof ApiError && !err.retryable) {
        // The server will never take this batch as it is (401/403 aside, which mean a wrong device).
        if (err.status === 401 || err.status === 403) throw err;
        store.markRejected(ids, err.message);
        rejected += ids.length;
        continue;
      }
      store.markAttemptFailed(ids, (err as Error).message);
      throw err;
    }
  }
  return { accepted, duplicates, rejected, remaining: store.counts().pending };
}
