import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
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
  ValidateNested,
} from 'class-validator';
import { FINAL_PRECISIONS, FinalPrecision } from '@edgenas/contracts';

/** Defaults of a final-training request (documented in the OpenAPI schema and the README). */
export const FINAL_TRAINING_DEFAULTS = {
  /** When neither steps nor epochs is given. */
  epochs: 10,
  batchSize: 64,
  augmentation: { crop: true, flip: false },
  temperature: 4,
  weight: 0.5,
  calibrationImages: 256,
  precisions: ['float32', 'int8'] as readonly FinalPrecision[],
} as const;

export class AugmentationDto {
  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.augmentation.crop,
    description: 'Random crop after zero-padding by 1/8 of the side (default true)',
  })
  @IsOptional()
  @IsBoolean()
  crop?: boolean;

  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.augmentation.flip,
    description: 'Random horizontal flip (default false)',
  })
  @IsOptional()
  @IsBoolean()
  flip?: boolean;
}

export class DistillationDto {
  @ApiPropertyOptional({
    description:
      "Teacher's architecture id in the job (default: the job's most accurate finalist; in standalone jobs, " +
      'its most accurate completed final model)',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  teacher?: string;

  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.temperature,
    description: 'Softmax temperature T of teacher and student in the KL term (default 4)',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(1)
  @Max(50)
  temperature?: number;

  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.weight,
    description: 'Weight α of the KL term: loss = (1 − α)·CE + α·T²·KL (default 0.5)',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  weight?: number;
}

export class FinalTrainingDto {
  @ApiPropertyOptional({ description: 'Training steps (give steps or epochs; default 10 epochs)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  steps?: number;

  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.epochs,
    description: 'Epochs over the training split (default 10 when steps is not given)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  epochs?: number;

  @ApiPropertyOptional({ example: FINAL_TRAINING_DEFAULTS.batchSize })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  batchSize?: number;

  @ApiPropertyOptional({
    example: 0.01,
    description: "Peak learning rate of the cosine schedule (default: the trainer's, Adam 1e-2)",
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(1e-6)
  @Max(1)
  learningRate?: number;

  @ApiPropertyOptional({ type: AugmentationDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AugmentationDto)
  augmentation?: AugmentationDto;

  @ApiPropertyOptional({
    description:
      "Seed of weights, batch order and dataset split (default: the job's, so the split is the search's)",
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;

  @ApiPropertyOptional({
    type: DistillationDto,
    description: 'Knowledge distillation from a teacher of the same job (absent: plain cross-entropy)',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => DistillationDto)
  distillation?: DistillationDto;

  @ApiPropertyOptional({
    example: FINAL_TRAINING_DEFAULTS.calibrationImages,
    description:
      'Training images that calibrate the INT8 activation ranges (default 256; at most the training set)',
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(100_000)
  calibrationImages?: number;

  @ApiPropertyOptional({
    enum: FINAL_PRECISIONS,
    isArray: true,
    example: FINAL_TRAINING_DEFAULTS.precisions,
    description: 'Files to produce: float32 always (INT8 is made from it), int8 on request (default both)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(FINAL_PRECISIONS, { each: true })
  precisions?: FinalPrecision[];
}
