import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import {
  DEFAULT_SUPERNET_SEED,
  DEVICE_PRECISIONS,
  DevicePrecision,
  EVALUATION_MODES,
  EvaluationMode,
  JOB_PRESETS,
  PRESET_NAMES,
  PresetName,
  SUPERNET_SAMPLINGS,
  SearchStrategy,
  SupernetSampling,
} from '@edgenas/contracts';
import { CANDIDATE_STATUSES, CandidateStatus } from '@edgenas/storage';
import { DeploymentGeometryDto } from '../common/input-shape.dto';
import { OptionalNestedObject } from '../common/nested';

export const MAX_JOB_DEVICES = 16;
export const STRATEGIES: readonly SearchStrategy[] = ['nsga2', 'evolution', 'random'];
export const DATASET_KINDS = ['fashion-mnist', 'image-folder', 'synthetic'] as const;

export class ProxyDatasetDto {
  @ApiProperty({ enum: DATASET_KINDS, example: 'fashion-mnist' })
  @IsIn(DATASET_KINDS)
  kind!: (typeof DATASET_KINDS)[number];

  @ApiPropertyOptional({
    example: JOB_PRESETS.quick.trainSize,
    description: "fashion-mnist | synthetic: training subset size (default: the preset's)",
  })
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(60000)
  trainSize?: number;

  @ApiPropertyOptional({
    example: JOB_PRESETS.quick.valSize,
    description: "fashion-mnist | synthetic: validation subset size (default: the preset's)",
  })
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(10000)
  valSize?: number;

  @ApiPropertyOptional({
    description:
      'image-folder: a folder (one sub-folder per class) under the dataset roots (EDGENAS_DATASETS_DIR): ' +
      'relative to the first root, e.g. a dataset added with POST /v1/datasets/{name}/images, or absolute ' +
      'under any root; nothing outside them, symbolic links included',
  })
  @ValidateIf((o: ProxyDatasetDto) => o.kind === 'image-folder')
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  path?: string;

  @ApiPropertyOptional({ example: 0.2, description: 'image-folder: share held out for validation' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.05)
  @Max(0.5)
  valFraction?: number;
}

export class ProxyTrainingDto {
  @ApiPropertyOptional({ type: ProxyDatasetDto })
  @OptionalNestedObject(() => ProxyDatasetDto, 'kind and its settings')
  dataset?: ProxyDatasetDto;

  @ApiPropertyOptional({ example: 1, description: 'Standalone mode: epochs per candidate' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  epochs?: number;

  @ApiPropertyOptional({ description: 'Standalone mode: training steps per candidate (overrides epochs)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  steps?: number;

  @ApiPropertyOptional({ example: 32, description: 'Standalone mode: batch size per candidate' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  batchSize?: number;

  @ApiPropertyOptional({ example: 28, description: 'Square proxy input resolution' })
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(64)
  resolution?: number;
}

export class SearchBudgetDto {
  @ApiPropertyOptional({
    example: JOB_PRESETS.quick.budget.generations,
    description: "Default: the preset's",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  generations?: number;

  @ApiPropertyOptional({ example: JOB_PRESETS.quick.budget.population, description: "Default: the preset's" })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(10_000)
  population?: number;

  @ApiPropertyOptional({
    example: JOB_PRESETS.quick.budget.maxTrainedCandidates,
    description:
      "Candidates evaluated (trained in standalone mode, scored in supernet mode); default: the preset's",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxTrainedCandidates?: number;

  @ApiPropertyOptional({
    example: JOB_PRESETS.quick.budget.wallClockSeconds,
    description: "Default: the preset's",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(30 * 86400)
  wallClockSeconds?: number;
}

const QUICK = JOB_PRESETS.quick.evaluation;

export class SupernetDto {
  @ApiPropertyOptional({
    example: QUICK.supernet.steps,
    description: 'Supernet training steps (one path per step)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  steps?: number;

  @ApiPropertyOptional({ example: QUICK.supernet.batchSize })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  batchSize?: number;

  @ApiPropertyOptional({
    enum: SUPERNET_SAMPLINGS,
    example: QUICK.supernet.sampling,
    description:
      'Path sampling: uniform (SPOS), fair (FairNAS), sandwich (largest + smallest + random paths)',
  })
  @IsOptional()
  @IsIn(SUPERNET_SAMPLINGS)
  sampling?: SupernetSampling;

  @ApiPropertyOptional({
    example: QUICK.supernet.recalibrationBatches,
    description: "Training batches that recompute BatchNorm statistics before a subnet's score",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  recalibrationBatches?: number;

  @ApiPropertyOptional({
    example: QUICK.supernet.scoreImages,
    description:
      "Validation images each subnet is scored on; at most proxy.dataset.valSize (default: the preset's, " +
      'capped at valSize)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  scoreImages?: number;

  @ApiPropertyOptional({
    example: DEFAULT_SUPERNET_SEED,
    description:
      `Seed of the supernet's training, apart from the job's seed (default ${DEFAULT_SUPERNET_SEED}): jobs on the ` +
      'same data for other devices, budgets or seeds reuse one supernet; give another to train an independent one',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;
}

export class FinalistsDto {
  @ApiPropertyOptional({
    example: QUICK.finalists.count,
    description: 'Search-front members retrained stand-alone, spread by crowding distance',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  count?: number;

  @ApiPropertyOptional({
    example: QUICK.finalists.seeds,
    minimum: 2,
    maximum: 10,
    description: 'Seeds per finalist (at least 2, so differences can be told from seed noise)',
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(10)
  seeds?: number;

  @ApiPropertyOptional({
    example: QUICK.finalists.steps,
    description: 'Training steps per finalist and seed',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  steps?: number;

  @ApiPropertyOptional({ example: QUICK.finalists.batchSize })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  batchSize?: number;
}

export class EvaluationDto {
  @ApiPropertyOptional({
    enum: EVALUATION_MODES,
    example: 'supernet',
    description:
      "supernet (default): one weight-sharing supernet scores the candidates, the front's finalists are " +
      'retrained stand-alone over seeds; standalone: every candidate is proxy-trained (proxy.epochs/steps)',
  })
  @IsOptional()
  @IsIn(EVALUATION_MODES)
  mode?: EvaluationMode;

  @ApiPropertyOptional({
    type: SupernetDto,
    description: 'Supernet mode only; unset fields come from the preset',
  })
  @OptionalNestedObject(() => SupernetDto, 'supernet training settings')
  supernet?: SupernetDto;

  @ApiPropertyOptional({
    type: FinalistsDto,
    description:
      'Finalists (supernet mode) and the budget baselines are trained with; unset fields from the preset',
  })
  @OptionalNestedObject(() => FinalistsDto, 'finalist settings')
  finalists?: FinalistsDto;

  @ApiPropertyOptional({
    example: true,
    description:
      'Train hand-designed baselines beside the front (default: true in supernet mode, false in standalone)',
  })
  @IsOptional()
  @IsBoolean()
  baselines?: boolean;
}

export class CreateJobDto extends DeploymentGeometryDto {
  @ApiProperty({
    type: [String],
    description: 'Target device ids; the latency objective is the worst over them',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_JOB_DEVICES)
  @ArrayUnique()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  deviceIds!: string[];

  @ApiProperty({ example: 15, description: 'Latency budget, ms (hard constraint)' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.001)
  @Max(600_000)
  latencyBudgetMs!: number;

  @ApiPropertyOptional({ type: ProxyTrainingDto })
  @OptionalNestedObject(() => ProxyTrainingDto, 'dataset and proxy training settings')
  proxy?: ProxyTrainingDto;

  @ApiPropertyOptional({ type: SearchBudgetDto })
  @OptionalNestedObject(() => SearchBudgetDto, 'search budget settings')
  budget?: SearchBudgetDto;

  @ApiPropertyOptional({ enum: STRATEGIES, example: 'nsga2' })
  @IsOptional()
  @IsIn(STRATEGIES)
  strategy?: SearchStrategy;

  @ApiPropertyOptional({
    enum: DEVICE_PRECISIONS,
    example: 'fp32',
    description:
      'Precision the front deploys at (default fp32): every device of deviceIds must be a profile of it, and ' +
      "candidates are priced from those devices' LUTs (int8: latencies of the quantized networks)",
  })
  @IsOptional()
  @IsIn(DEVICE_PRECISIONS)
  precision?: DevicePrecision;

  @ApiPropertyOptional({
    enum: PRESET_NAMES,
    example: 'quick',
    description:
      'Budgets, evaluation and dataset sizes to start from (default quick); explicit request fields win',
  })
  @IsOptional()
  @IsIn(PRESET_NAMES)
  preset?: PresetName;

  @ApiPropertyOptional({ type: EvaluationDto })
  @OptionalNestedObject(() => EvaluationDto, 'evaluation settings')
  evaluation?: EvaluationDto;

  @ApiPropertyOptional({ example: 1, description: 'Seed (default: random, reported with the job)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;
}

export class CandidatesQueryDto {
  @ApiPropertyOptional({ enum: CANDIDATE_STATUSES })
  @IsOptional()
  @IsIn(CANDIDATE_STATUSES)
  status?: CandidateStatus;
}

export class JobsQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
