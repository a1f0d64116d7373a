import { cpus } from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import { TASK_QUEUES } from '@edgenas/contracts';
import { Activities, ActivityDeps, createActivities, isTrainingActivity } from './activities';
import { activityLogging } from './logging';
import { addLibraryAliases } from './workflow-bundle';

export type QueueName = keyof typeof TASK_QUEUES;
export const QUEUE_NAMES = Object.keys(TASK_QUEUES) as QueueName[];

export interface WorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  /** Which task queues this process serves: 'light' (workflows + light activities), 'training', or both. */
  readonly queues: readonly QueueName[];
  /** Proxy trainings run at once by this process (each in its own child process). */
  readonly trainingConcurrency: number;
  readonly deps: ActivityDeps;
}

/** One training per core, keeping a core for the event loop (heartbeats, workflow tasks); at least one. */
export function defaultTrainingConcurrency(): number {
  return Math.max(1, cpus().length - 1);
}

/** Creates the Temporal workers for the requested queues (not yet running). */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  if (options.queues.length === 0) throw new Error('no task queue selected (use --queues light,training)');
  const activities: Activities = createActivities(options.deps);
  const workers: Worker[] = [];
  if (options.queues.includes('light')) {
    const lightActivities = Object.fromEntries(
      Object.entries(activities).filter(([name]) => !isTrainingActivity(name)),
    );
    workers.push(
      await Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: TASK_QUEUES.light,
        workflowsPath: require.resolve('./workflows'),
        bundlerOptions: { webpackConfigHook: addLibraryAliases },
        activities: lightActivities,
        interceptors: { activity: [activityLogging] },
      }),
    );
  }
  if (options.queues.includes('training')) {
    workers.push(
      await Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: TASK_QUEUES.training,
        activities: Object.fromEntries(
          Object.entries(activities).filter(([name]) => isTrainingActivity(name)),
        ),
        maxConcurrentActivityTaskExecutions: options.trainingConcurrency,
        interceptors: { activity: [activityLogging] },
      }),
    );
  }
  return workers;
}

/** Runs the workers until they are shut down (SIGINT/SIGTERM via the Temporal runtime, or `shutdown()`). */
export async function runWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
