/**
 * The activity stubs the workflows call, one per kind of work, with its queue, timeouts and retries. Workflow code
 * (sandboxed): both the job workflow and the final-training workflow use these, so a kind of work is retried and
 * timed out the same way wherever it runs.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import { TASK_QUEUES } from '@edgenas/contracts';
import type { Activities } from './activities';

/** Database, LUT and export work: short. */
export const light = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.light,
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['MissingSignatures'] },
});

/** Proxy trainings and scoring batches. */
export const training = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.training,
  startToCloseTimeout: '1 hour',
  // Training heartbeats every couple of seconds; a lost worker is noticed after this and the try is retried.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 4 },
  // Cancellation waits until the activity has stopped its training process.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Long, checkpointed trainings (supernets, final models, teachers): a lost worker is noticed after the heartbeat
 * timeout and the retry resumes from the checkpoint its heartbeat names.
 */
export const longTraining = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.training,
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 4 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Waits for device agents, heartbeating; bounded by the worker's verification timeouts. */
export const verification = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.light,
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
});
