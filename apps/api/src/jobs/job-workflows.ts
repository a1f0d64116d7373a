import { Client, Connection, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import {
  FINAL_TRAINING_WORKFLOW,
  FinalTrainingInput,
  NAS_JOB_WORKFLOW,
  NasJobInput,
  NasJobProgress,
  PROGRESS_QUERY,
  TASK_QUEUES,
  finalTrainingWorkflowId,
} from '@edgenas/contracts';

/** How long a progress query may wait for a worker to answer before the API reports the job without it. */
export const PROGRESS_QUERY_DEADLINE_MS = 2000;
/** Other calls: long enough for a healthy server, short enough that an unreachable one fails the request fast. */
export const TEMPORAL_CALL_DEADLINE_MS = 5000;

/** Temporal workflow status names, lower-cased ('running', 'completed', 'failed', 'canceled', …). */
export type WorkflowState = string;

/**
 * What the API needs from Temporal for jobs and final trainings (the workflow code itself lives in the worker).
 * `describe` and `cancel` take a workflow id: a job's id, or `finalTrainingWorkflowId(finalModelId)`.
 */
export interface JobWorkflows {
  start(input: NasJobInput): Promise<void>;
  startFinalTraining(input: FinalTrainingInput): Promise<void>;
  describe(jobId: string): Promise<WorkflowState | undefined>;
  /** undefined when no worker answered within the deadline or the workflow is gone. */
  progress(jobId: string): Promise<NasJobProgress | undefined>;
  cancel(jobId: string): Promise<void>;
  /** One round trip to the workflow service (readiness); throws when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface TemporalOptions {
  readonly address?: string;
  readonly namespace?: string;
  /** An existing client (tests); not closed by the API. */
  readonly client?: Client;
}

export class TemporalJobWorkflows implements JobWorkflows {
  private constructor(
    private readonly client: Client,
    private readonly ownedConnection: Connection | undefined,
  ) {}

  /** Connects lazily: the API serves devices and LUTs while Temporal is still starting or down. */
  static create(options: TemporalOptions = {}): TemporalJobWorkflows {
    if (options.client) return new TemporalJobWorkflows(options.client, undefined);
    const connection = Connection.lazy({ address: options.address ?? 'localhost:7233' });
    const client = new Client({ connection, namespace: options.namespace ?? 'default' });
    return new TemporalJobWorkflows(client, connection);
  }

  private withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + ms, fn);
  }

  async start(input: NasJobInput): Promise<void> {
    await this.withDeadline(TEMPORAL_CALL_DEADLINE_MS, () =>
      this.client.workflow.start(NAS_JOB_WORKFLOW, {
        workflowId: input.jobId,
        taskQueue: TASK_QUEUES.light,
        args: [input],
      }),
    );
  }

  async startFinalTraining(input: FinalTrainingInput): Promise<void> {
    await this.withDeadline(TEMPORAL_CALL_DEADLINE_MS, () =>
      this.client.workflow.start(FINAL_TRAINING_WORKFLOW, {
        workflowId: finalTrainingWorkflowId(input.finalModelId),
        taskQueue: TASK_QUEUES.light,
        args: [input],
      }),
    );
  }

  async describe(jobId: string): Promise<WorkflowState | undefined> {
    let d: WorkflowExecutionDescription;
    try {
      d = await this.withDeadline(TEMPORAL_CALL_DEADLINE_MS, () =>
        this.client.workflow.getHandle(jobId).describe(),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    return d.status.name.toLowerCase();
  }

  async progress(jobId: string): Promise<NasJobProgress | undefined> {
    try {
      return await this.withDeadline(PROGRESS_QUERY_DEADLINE_MS, () =>
        this.client.workflow.getHandle(jobId).query<NasJobProgress>(PROGRESS_QUERY),
      );
    } catch {
      return undefined;
    }
  }

  async cancel(jobId: string): Promise<void> {
    await this.withDeadline(TEMPORAL_CALL_DEADLINE_MS, () => this.client.workflow.getHandle(jobId).cancel());
  }

  async ping(): Promise<void> {
    await this.withDeadline(PROGRESS_QUERY_DEADLINE_MS, () =>
      this.client.connection.workflowService.getSystemInfo({}),
    );
  }

  async close(): Promise<void> {
    await this.ownedConnection?.close();
  }
}
