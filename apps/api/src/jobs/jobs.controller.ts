import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { DEFAULT_PRECISION } from '@edgenas/contracts';
import { Repositories } from '@edgenas/storage';
import { notFound } from '../common/api-error';
import { ErrorResponse } from '../common/responses';
import { REPOSITORIES } from '../tokens';
import { CandidatesQueryDto, CreateJobDto, JobsQueryDto } from './jobs.dto';
import { CreatedJobResponse, JobViewResponse, ParetoResponse } from './jobs.responses';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Submit a NAS job',
    description:
      'Fills the preset (quick, standard, thorough; default quick) under the explicit fields, validates them ' +
      '(400: unknown evaluation.mode, fewer than 2 finalist seeds, a score subset larger than the validation ' +
      'set, a training set smaller than a batch), devices (404; 400 for a device whose precision is not the ' +
      "job's), geometry (400), LUT coverage of the space on " +
      'every device (409, naming the missing signatures) and the latency budget against the fastest ' +
      'achievable latency (422), then starts the job workflow with the resolved input.',
  })
  @ApiResponse({ status: 202, type: CreatedJobResponse })
  @ApiResponse({
    status: 400,
    type: ErrorResponse,
    description:
      "Invalid or inconsistent fields, each named (deviceIds.N: a device of another precision than the job's)",
  })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown device' })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'A device LUT cannot price the space' })
  @ApiResponse({
    status: 422,
    type: ErrorResponse,
    description: 'Budget below the fastest achievable latency (fastestAchievableMs)',
  })
  async create(@Body() body: CreateJobDto): Promise<CreatedJobResponse> {
    const job = await this.jobs.create(body);
    return { id: job.id, status: job.status, input: job.input, createdAt: job.createdAt };
  }

  @Get()
  @ApiOperation({ summary: 'Jobs, newest first' })
  async list(@Query() q: JobsQueryDto) {
    const jobs = await this.jobs.list(q.limit);
    return jobs.map((j) => ({
      id: j.id,
      status: j.status,
      space: j.input.space,
      deviceIds: j.input.deviceIds,
      precision: j.input.precision ?? DEFAULT_PRECISION,
      latencyBudgetMs: j.input.latencyBudgetMs,
      error: j.error,
      createdAt: j.createdAt,
      updatedAt: j.updatedAt,
    }));
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A job: status, progress while running (generation, trained, front so far, activity), result',
  })
  @ApiResponse({ status: 200, type: JobViewResponse })
  view(@Param('id') id: string): Promise<JobViewResponse> {
    return this.jobs.view(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({ summary: 'Request cancellation; running trainings stop, the status becomes cancelled' })
  cancel(@Param('id') id: string) {
    return this.jobs.cancel(id);
  }

  @Get(':id/pareto')
  @ApiOperation({
    summary: 'Pareto front (final, or so far while running) with baselines and model download links',
  })
  @ApiResponse({ status: 200, type: ParetoResponse })
  pareto(@Param('id') id: string): Promise<ParetoResponse> {
    return this.jobs.pareto(id);
  }

  @Get(':id/candidates')
  @ApiOperation({ summary: 'Every recorded candidate of a job' })
  async candidates(@Param('id') id: string, @Query() q: CandidatesQueryDto) {
    await this.jobs.get(id);
    return this.repos.candidates.list(id, { status: q.status });
  }

  @Get(':id/architectures/:archId/model.onnx')
  @ApiProduces('application/octet-stream')
  @ApiOperation({ summary: 'Exported ONNX model of a Pareto architecture (404 until exported)' })
  async model(@Param('id') id: string, @Param('archId') archId: string): Promise<StreamableFile> {
    await this.jobs.get(id);
    const model = await this.repos.models.get(id, archId);
    if (!model) throw notFound(`no exported model for architecture "${archId}" of job "${id}"`, 'archId');
    return new StreamableFile(Buffer.from(model.onnx), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${archId}.onnx"`,
      length: model.onnx.byteLength,
    });
  }
}
