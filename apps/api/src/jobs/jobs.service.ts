import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import {
  CandidateSummary,
  DEFAULT_PRECISION,
  JobStatus,
  NasJobInput,
  NasJobProgress,
} from '@edgenas/contracts';
import { fastestAchievableLatency, missingSignatures } from '@edgenas/latency-predictor';
import { MacroConfig, baseSpaceName } from '@edgenas/search-space';
import { JobRecord, Repositories, TERMINAL_JOB_STATUSES } from '@edgenas/storage';
import { ApiError, FieldError, notFound } from '../common/api-error';
import { resolveSpaceOrBadRequest } from '../common/geometry';
import { isMissingSignatures, missingLutError } from '../common/missing-lut';
import { DevicePredictors } from '../latency/device-predictors';
import { DATASET_ROOTS, JOB_WORKFLOWS, REPOSITORIES } from '../tokens';
import { checkDatasetPath } from '../datasets/dataset-folders';
import { JobWorkflows } from './job-workflows';
import { JOB_DEFAULTS, resolveJobRequest } from './job-request';
import { CreateJobDto } from './jobs.dto';
import { JobViewResponse, ParetoResponse } from './jobs.responses';

export interface JobView extends JobViewResponse {
  readonly id: string;
  readonly status: JobStatus;
  /** Temporal's view of the workflow (running, completed, canceled, …) when it could be asked. */
  readonly workflowStatus: string | null;
  readonly input: NasJobInput;
  readonly progress: NasJobProgress | null;
  readonly result: JobRecord['result'];
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

@Injectable()
export class JobsService {
  private readonly logger = new Logger('JobsService');

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(JOB_WORKFLOWS) private readonly workflows: JobWorkflows,
    @Inject(DATASET_ROOTS) private readonly datasetRoots: readonly string[],
    private readonly predictors: DevicePredictors,
  ) {}

  /**
   * Resolves the preset under the request (400 naming fields that cannot work together), checks it against
   * the stored devices and their LUTs, then records the job and starts its workflow. 400 an image folder
   * outside the dataset roots, or a device of another precision than the job's; 404 unknown device; 409 LUT cannot price the geometry; 422 budget below the
   * fastest achievable latency; 503 Temporal unreachable (the job row is then removed again).
   */
  async create(body: CreateJobDto): Promise<JobRecord> {
    const config = resolveSpaceOrBadRequest(body.space, body.input, body.classes);
    const devices = await this.repos.devices.getMany(body.deviceIds);
    const known = new Set(devices.map((d) => d.id));
    const unknown: FieldError[] = body.deviceIds
      .map((id, i) => ({ id, i }))
      .filter(({ id }) => !known.has(id))
      .map(({ id, i }) => ({ field: `deviceIds.${i}`, reason: `unknown device "${id}"` }));
    if (unknown.length > 0) {
      throw new ApiError(404, unknown.map((u) => u.reason).join('; '), unknown);
    }
    // A job is priced from its devices' LUTs: they must have been measured at the precision it deploys at.
    const precision = body.precision ?? DEFAULT_PRECISION;
    const precisionById = new Map(devices.map((d) => [d.id, d.precision]));
    const otherPrecision: FieldError[] = body.deviceIds
      .map((id, i) => ({ id, i, has: precisionById.get(id) }))
      .filter(({ has }) => has !== precision)
      .map(({ id, i, has }) => ({
        field: `deviceIds.${i}`,
        reason:
          `device "${id}" is a ${has} profile, but the job's precision is ${precision}: ` +
          `its LUT does not price ${precision} models (use a ${precision} device, or set precision to ${has})`,
      }));
    if (otherPrecision.length > 0) {
      throw new ApiError(400, otherPrecision.map((u) => u.reason).join('; '), otherPrecision);
    }
    if (body.proxy?.dataset?.kind !== 'image-folder' && body.proxy?.dataset?.path !== undefined) {
      throw new ApiError(400, 'proxy.dataset.path: only for kind image-folder', [
        { field: 'proxy.dataset.path', reason: 'only for kind image-folder' },
      ]);
    }
    if (body.proxy?.dataset?.kind === 'image-folder' && body.proxy.dataset.path !== undefined) {
      checkDatasetPath(body.proxy.dataset.path, this.datasetRoots, 'proxy.dataset.path');
    }
    const { proxy, budget, evaluation } = resolveJobRequest(body);

    const fastestByDevice: Record<string, number> = {};
    for (const [i, deviceId] of body.deviceIds.entries()) {
      fastestByDevice[deviceId] = await this.fastestOn(deviceId, config, `deviceIds.${i}`);
    }
    const tooSlow = Object.entries(fastestByDevice).filter(([, ms]) => ms > body.latencyBudgetMs);
    if (tooSlow.length > 0) {
      const worst = Math.max(...tooSlow.map(([, ms]) => ms));
      const reason =
        `latency budget ${body.latencyBudgetMs} ms is below the fastest achievable latency on ` +
        tooSlow.map(([id, ms]) => `device ${id} (${ms.toFixed(3)} ms)`).join(', ') +
        ` for ${config.name}; use a budget of at least ${worst.toFixed(3)} ms`;
      throw new ApiError(422, reason, [{ field: 'latencyBudgetMs', reason }], {
        fastestAchievableMs: worst,
        fastestAchievableByDevice: fastestByDevice,
      });
    }

    const input: NasJobInput = {
      jobId: randomUUID(),
      deviceIds: body.deviceIds,
      latencyBudgetMs: body.latencyBudgetMs,
      space: baseSpaceName(body.space),
      input: config.input,
      classes: config.classes,
      proxy,
      budget,
      strategy: body.strategy ?? JOB_DEFAULTS.strategy,
      seed: body.seed ?? randomInt(0, 2 ** 31 - 1),
      precision,
      evaluation,
    };
    const job = await this.repos.jobs.create(input, 'queued');
    try {
      await this.workflows.start(input);
    } catch (err) {
      this.logger.error(`starting the workflow of job ${input.jobId} failed: ${String(err)}`);
      await this.repos.jobs.deleteUnstarted(input.jobId);
      throw new ApiError(
        503,
        'the workflow service (Temporal) is unavailable; the job was not created, retry later',
      );
    }
    return job;
  }

  /** Fastest achievable latency of the geometry on one device; 409 when its LUT cannot price the whole space. */
  private async fastestOn(deviceId: string, config: MacroConfig, field: string): Promise<number> {
    const predictor = await this.predictors.forGeometry(deviceId, config, field);
    // The search may pick any block at any layer: every signature of the space must be priced.
    const missing = missingSignatures(predictor.lut, config);
    if (missing.length > 0) throw missingLutError(deviceId, config.name, missing, field);
    try {
      return fastestAchievableLatency(config, predictor.lut, predictor.calibration).latencyMs;
    } catch (err) {
      if (isMissingSignatures(err)) throw missingLutError(deviceId, config.name, err.missing, field);
      throw err;
    }
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.repos.jobs.get(id);
    if (!job) throw notFound(`unknown job "${id}"`, 'id');
    return job;
  }

  /** DB row plus Temporal's view: workflow status and, while it runs, the progress query (when a worker answers). */
  async view(id: string): Promise<JobView> {
    const job = await this.get(id);
    let workflowStatus: string | null = null;
    let progress: NasJobProgress | null = null;
    if (!TERMINAL_JOB_STATUSES.includes(job.status)) {
      try {
        workflowStatus = (await this.workflows.describe(id)) ?? null;
      } catch (err) {
        this.logger.warn(`describing workflow ${id} failed: ${String(err)}`);
      }
      if (workflowStatus === 'running') progress = (await this.workflows.progress(id)) ?? null;
    }
    return {
      id: job.id,
      status: job.status,
      workflowStatus,
      input: job.input,
      progress,
      result: job.result,
      error: job.error,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
    };
  }

  async list(limit?: number): Promise<JobRecord[]> {
    return this.repos.jobs.list({ limit });
  }

  async cancel(id: string): Promise<{ id: string; status: JobStatus; cancelRequested: boolean }> {
    const job = await this.get(id);
    if (TERMINAL_JOB_STATUSES.includes(job.status)) {
      throw new ApiError(409, `job ${id} is already ${job.status}`, [
        { field: 'id', reason: `job is ${job.status}` },
      ]);
    }
    try {
      const state = await this.workflows.describe(id);
      if (state !== 'running') {
        const reason =
          state === undefined
            ? "the job's workflow does not exist"
            : `the job's workflow is no longer running (${state})`;
        throw new ApiError(409, reason, [{ field: 'id', reason }]);
      }
      await this.workflows.cancel(id);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      this.logger.error(`cancelling workflow ${id} failed: ${String(err)}`);
      throw new ApiError(503, 'the workflow service (Temporal) is unavailable; retry the cancel later');
    }
    return { id, status: job.status, cancelRequested: true };
  }

  /**
   * The final front when the job completed, else the front so far from the progress query; beside it the
   * baselines and, in supernet mode, the search front as the supernet scored it.
   */
  async pareto(id: string): Promise<ParetoResponse> {
    const view = await this.view(id);
    const result = view.result;
    const front: readonly CandidateSummary[] = result?.front ?? view.progress?.front ?? [];
    const models = new Set((await this.repos.models.list(id)).map((m) => m.architectureId));
    // verifications recorded after the front was computed live in the candidate rows
    const rows = new Map((await this.repos.candidates.list(id)).map((c) => [c.architectureId, c]));
    const member = <T extends CandidateSummary>(c: T) => ({
      ...c,
      measuredLatencyByDevice: {
        ...(c.measuredLatencyByDevice ?? {}),
        ...(rows.get(c.architectureId)?.measuredLatencyByDevice ?? {}),
      },
      modelUrl: models.has(c.architectureId)
        ? `/v1/jobs/${id}/architectures/${c.architectureId}/model.onnx`
        : null,
    });
    const history = view.progress?.hypervolumeHistory;
    return {
      jobId: id,
      status: view.status,
      final: result !== null,
      latencyBudgetMs: view.input.latencyBudgetMs,
      evaluationMode: result?.evaluationMode ?? view.input.evaluation?.mode ?? 'standalone',
      hypervolume: result?.hypervolume ?? view.progress?.hypervolume ?? null,
      front: front.map(member),
      searchFront: result?.searchFront?.map(member) ?? null,
      baselines: (result?.baselines ?? []).map(member),
      supernet: result?.supernet ?? null,
      ...(history ? { hypervolumeHistory: history } : {}),
    };
  }
}
