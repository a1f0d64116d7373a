import { Context } from '@temporalio/activity';
import type {
  Repositories,
  StoredArchitectureMeasurement,
  VerificationRequestRecord,
} from '@edgenas/storage';

export interface VerificationPoll {
  readonly deadline: number;
  readonly pollMs: number;
  /** A request that is gone, or not of the kind the caller waits for: dropped without a word. */
  readonly relevant: (request: VerificationRequestRecord) => boolean;
  /** A completed request, with its measurement (undefined when that row is gone). */
  readonly answered: (
    request: VerificationRequestRecord,
    measurement: StoredArchitectureMeasurement | undefined,
  ) => Promise<void> | void;
  /** A request that expired before it was answered. */
  readonly expired?: (request: VerificationRequestRecord) => void;
}

/**
 * Waits (heartbeating) until every request in `open` is answered or expired, or the deadline passes, deleting
 * each from `open` as it is settled. What to do with those left (expire them, say why) is the caller's, also
 * when the wait is cancelled, which is why the set is the caller's.
 */
export async function pollVerifications(
  repos: Repositories,
  open: Set<string>,
  poll: VerificationPoll,
): Promise<void> {
  const ctx = Context.current();
  while (open.size > 0) {
    for (const id of [...open]) {
      const request = await repos.verifications.get(id);
      if (!request || !poll.relevant(request)) {
        open.delete(id);
        continue;
      }
      if (request.status === 'expired') {
        open.delete(id);
        poll.expired?.(request);
        continue;
      }
      if (request.status !== 'completed' || !request.measurementId) continue;
      open.delete(id);
      await poll.answered(
        request,
        await repos.measurements.getArchitectureMeasurement(request.measurementId),
      );
    }
    if (open.size === 0 || Date.now() >= poll.deadline) break;
    ctx.heartbeat({ waiting: open.size });
    await ctx.sleep(poll.pollMs);
  }
}
