import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  DistillationSpec,
  FinalModelProgress,
  FinalModelStatus,
  FinalTrainingInput,
  FinalTrainingSpec,
  ModelCard,
  TERMINAL_FINAL_MODEL_STATUSES,
  finalTrainingWorkflowId,
} from '@edgenas/contracts';
import { FinalModelFile, FinalModelRecord, JobRecord, Repositories } from '@edgenas/storage';
import { ApiError, notFound } from '../common/api-error';
import { JobWorkflows } from '../jobs/job-workflows';
import { JOB_WORKFLOWS, REPOSITORIES } from '../tokens';
import { FINAL_TRAINING_DEFAULTS, FinalTrainingDto } from './final-models.dto';
import { finalTrainingGeometry, resolveFinalTraining } from './final-training-request';

/** A final model as the API serves it: state, resolved request, card and download links once completed. */
export interface FinalModelView {
  readonly id: string;
  readonly jobId: string;
  readonly architectureId: string;
  readonly architecture: string;
  readonly status: FinalModelStatus;
  readonly progress: FinalModelProgress | null;
  readonly request: FinalTrainingSpec;
  readonly card: ModelCard | null;
  readonly error: string | null;
  readonly files: { readonly float: string | null; readonly int8: string | null };
  readonly createdAt: string;
  readonly updatedAt: string;
}

const FILE_NAMES: Record<FinalModelFile, string> = { float: 'model.onnx', int8: 'model.int8.onnx' };

@Injectable()
export class FinalModelsService {
  private readonly logger = new Logger('FinalModelsService');

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(JOB_WORKFLOWS) private readonly workflows: JobWorkflows,
  ) {}

  private async job(id: string): Promise<JobRecord> {
    const job = await this.repos.jobs.get(id);
    if (!job) throw notFound(`unknown job "${id}"`, 'id');
    return job;
  }

  /**
   * The architecture string of `archId` when the job recorded it anywhere: a candidate (any status), a front
   * or search-front member, a baseline, or a stand-alone retraining (finalist or baseline).
   */
  private async architectureIn(job: JobRecord, archId: string): Promise<string | undefined> {
    const candidate = await this.repos.candidates.get(job.id, archId);
    if (candidate) return candidate.architecture;
    const r = job.result;
    const members = [...(r?.front ?? []), ...(r?.searchFront ?? []), ...(r?.baselines ?? [])];
    const member = members.find((m) => m.architectureId === archId);
    if (member) return member.architecture;
    const trainings = await this.repos.standaloneTrainings.listForJob(job.id);
    return trainings.find((t) => t.architectureId === archId)?.architecture;
  }

  /**
   * The teacher of a distilled training: the one named (404 when the job does not hold it), else the job's most
   * accurate finalist (mean over seeds), else its most accurate completed final model; 409 naming what is
   * missing when there is none.
   */
  private async teacher(job: JobRecord, body: FinalTrainingDto): Promise<DistillationSpec | undefined> {
    const d = body.distillation;
    if (!d) return undefined;
    const settings = {
      temperature: d.temperature ?? FINAL_TRAINING_DEFAULTS.temperature,
      weight: d.weight ?? FINAL_TRAINING_DEFAULTS.weight,
    };
    if (d.teacher !== undefined) {
      const architecture = await this.architectureIn(job, d.teacher);
      if (!architecture) {
        throw notFound(`architecture "${d.teacher}" is not in job "${job.id}"`, 'distillation.teacher');
      }
      return {
        teacherArchitectureId: d.teacher,
        teacherArchitecture: architecture,
        teacherSource: 'request',
        ...settings,
      };
    }
    const finalists = new Map<string, { architecture: string; accuracies: number[] }>();
    for (const t of await this.repos.standaloneTrainings.listForJob(job.id)) {
      if (t.purpose !== 'finalist') continue;
      const entry = finalists.get(t.architectureId) ?? { architecture: t.architecture, accuracies: [] };
      entry.accuracies.push(t.accuracy);
      finalists.set(t.architectureId, entry);
    }
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const best = [...finalists.entries()].sort(
      ([ia, a], [ib, b]) => mean(b.accuracies) - mean(a.accuracies) || ia.localeCompare(ib),
    )[0];
    if (best) {
      return {
        teacherArchitectureId: best[0],
        teacherArchitecture: best[1].architecture,
        teacherSource: 'best-finalist',
        ...settings,
      };
    }
    const finals = (await this.repos.finalModels.list(job.id))
      .filter((m) => m.status === 'completed' && m.card)
      .sort((a, b) => (b.card as ModelCard).accuracy.float - (a.card as ModelCard).accuracy.float);
    if (finals.length > 0) {
      return {
        teacherArchitectureId: finals[0].architectureId,
        teacherArchitecture: finals[0].architecture,
        teacherSource: 'best-final-model',
        ...settings,
      };
    }
    const reason =
      `distillation has no teacher: job "${job.id}" has no finalists trained stand-alone ` +
      `(evaluation mode ${job.input.evaluation?.mode ?? 'standalone'}) and no completed final model; ` +
      'name one of its architectures in distillation.teacher, or complete a final model first';
    throw new ApiError(409, reason, [{ field: 'distillation.teacher', reason }]);
  }

  /**
   * Starts the final training of a job's architecture. 404 unknown job or architecture (or teacher); 409 job
   * not completed, or no teacher for distillation; 400 fields that cannot work with the job's data; 503
   * Temporal unreachable (nothing is kept then).
   */
  async create(jobId: string, archId: string, body: FinalTrainingDto): Promise<FinalModelView> {
    const job = await this.job(jobId);
    const architecture = await this.architectureIn(job, archId);
    if (!architecture) throw notFound(`architecture "${archId}" is not in job "${jobId}"`, 'archId');
    if (job.status !== 'completed') {
      const reason = `job "${jobId}" is ${job.status}: final training needs a completed job`;
      throw new ApiError(409, reason, [{ field: 'id', reason }]);
    }
    const spec = resolveFinalTraining(body, job.input, await this.teacher(job, body));
    const input: FinalTrainingInput = {
      finalModelId: randomUUID(),
      jobId,
      architectureId: archId,
      architecture,
      deployment: {
        space: job.input.space,
        input: job.input.input,
        classes: job.input.classes,
        deviceIds: job.input.deviceIds,
      },
      geometry: finalTrainingGeometry(job.input),
      spec,
    };
    const created = await this.repos.finalModels.create({
      id: input.finalModelId,
      jobId,
      architectureId: archId,
      architecture,
      request: spec,
    });
    try {
      await this.workflows.startFinalTraining(input);
    } catch (err) {
      this.logger.error(`starting final training ${input.finalModelId} failed: ${String(err)}`);
      await this.repos.finalModels.deleteUnstarted(input.finalModelId);
      throw new ApiError(
        503,
        'the workflow service (Temporal) is unavailable; the final training was not started, retry later',
      );
    }
    return this.view(created);
  }

  async list(jobId: string): Promise<FinalModelView[]> {
    await this.job(jobId);
    return (await this.repos.finalModels.list(jobId)).map((m) => this.view(m));
  }

  async get(jobId: string, finalId: string): Promise<FinalModelView> {
    return this.view(await this.record(jobId, finalId));
  }

  /** The ONNX file of a completed final model; 404 until then (or when INT8 was not asked for). */
  async file(jobId: string, finalId: string, which: FinalModelFile): Promise<Uint8Array> {
    const m = await this.record(jobId, finalId);
    const bytes = m.status === 'completed' ? await this.repos.finalModels.file(finalId, which) : undefined;
    if (!bytes) {
      const why =
        m.status !== 'completed'
          ? `final model "${finalId}" is ${m.status}; its files are served once it is completed`
          : `final model "${finalId}" has no ${which} file (precisions: ${m.request.precisions.join(', ')})`;
      throw notFound(why, 'finalId');
    }
    return bytes;
  }

  async cancel(jobId: string, finalId: string): Promise<{ id: string; cancelRequested: boolean }> {
    const m = await this.record(jobId, finalId);
    if (TERMINAL_FINAL_MODEL_STATUSES.includes(m.status)) {
      const reason = `final model is already ${m.status}`;
      throw new ApiError(409, reason, [{ field: 'finalId', reason }]);
    }
    try {
      await this.workflows.cancel(finalTrainingWorkflowId(finalId));
    } catch (err) {
      this.logger.error(`cancelling final training ${finalId} failed: ${String(err)}`);
      throw new ApiError(503, 'the workflow service (Temporal) is unavailable; retry the cancel later');
    }
    return { id: finalId, cancelRequested: true };
  }

  private async record(jobId: string, finalId: string): Promise<FinalModelRecord> {
    await this.job(jobId);
    const m = await this.repos.finalModels.get(finalId);
    if (!m || m.jobId !== jobId) throw notFound(`no final model "${finalId}" in job "${jobId}"`, 'finalId');
    return m;
  }

  private view(m: FinalModelRecord): FinalModelView {
    const link = (which: FinalModelFile, bytes: number | null) =>
      m.status === 'completed' && bytes !== null
        ? `/v1/jobs/${m.jobId}/final-models/${m.id}/${FILE_NAMES[which]}`
        : null;
    return {
      id: m.id,
      jobId: m.jobId,
      architectureId: m.architectureId,
      architecture: m.architecture,
      status: m.status,
      progress: m.progress,
      request: m.request,
      card: m.card,
      error: m.error,
      files: { float: link('float', m.floatBytes), int8: link('int8', m.int8Bytes) },
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
    };
  }
}
