import { BlockMeasurement } from '@edgenas/latency-predictor';
import { ApiClient, ApiError, RetryOptions, withRetry } from './api-client';
import { ArchitectureUpload } from '@edgenas/contracts';
import { AgentStore, QueuedMeasurement, RegisteredDevice } from './store';

/** Measurements per upload request (the API accepts up to 1000). */
export const DEFAULT_SYNC_BATCH = 100;

export interface SyncResult {
  readonly accepted: number;
  readonly duplicates: number;
  /** Refused by the server as invalid; kept locally, not retried. */
  readonly rejected: number;
  readonly remaining: number;
}

interface Tally {
  accepted: number;
  duplicates: number;
  rejected: number;
}

/**
 * Uploads every queued measurement in batches. Each batch is retried with backoff while the server is
 * unreachable; if it stays unreachable the error propagates and the rest stays queued for the next pass.
 * Idempotent: a batch the server stored but whose answer was lost is re-sent with the same ids and counted
 * as duplicates. The server refuses a whole batch for one invalid row, so a refused batch is split until the
 * invalid rows are isolated; only those are marked rejected.
 */
export async function syncPending(
  store: AgentStore,
  client: ApiClient,
  device: RegisteredDevice,
  opts: { readonly batchSize?: number; readonly retry?: RetryOptions } = {},
): Promise<SyncResult> {
  const batchSize = opts.batchSize ?? DEFAULT_SYNC_BATCH;
  const tally: Tally = { accepted: 0, duplicates: 0, rejected: 0 };
  for (;;) {
    const batch = store.pending(batchSize);
    if (batch.length === 0) break;
    await uploadBatch(batch, store, client, device, opts.retry, tally);
  }
  return { ...tally, remaining: store.counts().pending };
}

async function uploadBatch(
  batch: readonly QueuedMeasurement[],
  store: AgentStore,
  client: ApiClient,
  device: RegisteredDevice,
  retry: RetryOptions | undefined,
  tally: Tally,
): Promise<void> {
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
      retry,
    );
    store.markSynced(ids);
    tally.accepted += res.accepted;
    tally.duplicates += res.duplicates;
  } catch (err) {
    if (err instanceof ApiError && !err.retryable && !err.credentialsRefused) {
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await uploadBatch(batch.slice(0, half), store, client, device, retry, tally);
        await uploadBatch(batch.slice(half), store, client, device, retry, tally);
        return;
      }
      store.markRejected(ids, err.message);
      tally.rejected += ids.length;
      return;
    }
    store.markAttemptFailed(ids, (err as Error).message);
    throw err;
  }
}
