import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
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
  ValidateNested,
} from 'class-validator';
import { SearchStrategy } from '@edgenas/contracts';
import { DeploymentGeometryDto } from '../common/input-shape.dto';

export const MAX_JOB_DEVICES = 16;
export const STRATEGIES: readonly SearchStrategy[] = ['nsga2', 'evolution', 'random'];
export const DATASET_KINDS = ['fashion-mnist', 'image-folder', 'synthetic'] as const;

export class ProxyDatasetDto {
  @ApiProperty({ enum: DATASET_KINDS, example: 'fashion-mnist' })
  @IsIn(DATASET_KINDS)
  kind!: (typeof DATASET_KINDS)[number];

  @ApiPropertyOptional({ example: 2000, description: 'fashion-mnist | synthetic: training subset size' })
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(60000)
  trainSize?: number;

  @ApiPropertyOptional({ example: 500, description: 'fashion-mnist | synthetic: validation subset size' })
  @IsOptional()
  @IsInt()
  @Min(8)
  @Max(10000)
  valSize?: number;

  @ApiPropertyOptional({
    description: 'image-folder: folder on the training workers (one sub-folder per class)',
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
  @IsOptional()
  @ValidateNested()
  @Type(() => ProxyDatasetDto)
  dataset?: ProxyDatasetDto;

  @ApiPropertyOptional({ example: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  epochs?: number;

  @ApiPropertyOptional({ description: 'Training steps (overrides epochs)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  steps?: number;

  @ApiPropertyOptional({ example: 32 })
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
  @ApiPropertyOptional({ example: 5 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  generations?: number;

  @ApiPropertyOptional({ example: 8 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(10_000)
  population?: number;

  @ApiPropertyOptional({ example: 40 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxTrainedCandidates?: number;

  @ApiPropertyOptional({ example: 3600 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(30 * 86400)
  wallClockSeconds?: number;
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
  @IsOptional()
  @ValidateNested()
  @Type(() => ProxyTrainingDto)
  proxy?: ProxyTrainingDto;

  @ApiPropertyOptional({ type: SearchBudgetDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => SearchBudgetDto)
  budget?: SearchBudgetDto;

  @ApiPropertyOptional({ enum: STRATEGIES, example: 'nsga2' })
  @IsOptional()
  @IsIn(STRATEGIES)
  strategy?: SearchStrategy;

  @ApiPropertyOptional({ example: 1, description: 'Seed (default: random, reported with the job)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;
}

export class CandidatesQueryDto {
  @IsOptional()
  @IsIn(['proposed', 'over-budget', 'trained', 'failed'])
  status?: 'proposed' | 'over-budget' | 'trained' | 'failed';
}

export class JobsQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
