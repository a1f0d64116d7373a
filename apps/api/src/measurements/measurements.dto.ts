import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidationArguments,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import {
  ARCHITECTURE_MEASUREMENT_PURPOSES,
  ArchitectureMeasurementPurpose,
  FINAL_MODEL_FILES,
  FinalModelFile,
} from '@edgenas/contracts';
import { BLOCKS, BLOCK_TYPES, BlockType, SignatureOp } from '@edgenas/search-space';
import { NestedObject, NestedObjects } from '../common/nested';
import { NotInFuture } from '../common/timestamps';

/** Rows per upload (blocks and architectures together). */
export const MAX_MEASUREMENTS_PER_BATCH = 1000;
/** Anything slower is not a plausible single inference of one block or network on an edge device. */
export const MAX_LATENCY_MS = 60_000;

export const SIGNATURE_OPS: readonly SignatureOp[] = [
  ...(BLOCK_TYPES.filter((b) => b !== 'skip') as SignatureOp[]),
  'stem',
  'head',
];

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What a signature field must equal given its op (block type fixes kernel/expansion/groups; stem/head fix others). */
function expectedForOp(
  op: unknown,
  field: 'kernel' | 'expansion' | 'groups' | 'classes',
): number | 'positive' | undefined {
  if (typeof op !== 'string') return undefined;
  if (op === 'stem') return field === 'classes' ? 0 : field === 'kernel' ? undefined : 1;
  if (op === 'head') return field === 'classes' ? 'positive' : 1;
  if (!(op in BLOCKS) || op === 'skip') return undefined;
  if (field === 'classes') return 0;
  return BLOCKS[op as BlockType][field];
}

/** The field agrees with the signature's op (e.g. ir_k5_e6 → kernel 5, expansion 6, groups 1, classes 0). */
function ConsistentWithOp(field: 'kernel' | 'expansion' | 'groups' | 'classes', options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'consistentWithOp',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          const expected = expectedForOp((args.object as { op?: unknown }).op, field);
          if (expected === undefined) return true;
          if (expected === 'positive') return typeof value === 'number' && value >= 1;
          return value === expected;
        },
        defaultMessage(args: ValidationArguments) {
          const op = (args.object as { op?: unknown }).op;
          const expected = expectedForOp(op, field);
          const want = expected === 'positive' ? 'at least 1' : String(expected);
          return `${field} must be ${want} for op ${String(op)} (got ${JSON.stringify(args.value)})`;
        },
      },
    });
}

/** `value` ≥ `this[other]` (for p10 ≤ median ≤ p90). */
function NotLessThan(other: string, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'notLessThan',
      target: object.constructor,
      propertyName,
      constraints: [other],
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          const o = (args.object as Record<string, unknown>)[other];
          if (typeof value !== 'number' || typeof o !== 'number') return true; // type errors reported elsewhere
          return value >= o;
        },
        defaultMessage(args: ValidationArguments) {
          const o = (args.object as Record<string, unknown>)[other];
          return `${args.property} (${String(args.value)}) must not be less than ${other} (${String(o)})`;
        },
      },
    });
}

const finite = { allowNaN: false, allowInfinity: false } as const;

function LatencyMs(): PropertyDecorator {
  return (target, key) => {
    IsNumber(finite)(target, key);
    Min(0, { message: `${String(key)} must not be negative` })(target, key);
    Max(MAX_LATENCY_MS, {
      message: `${String(key)} must not exceed ${MAX_LATENCY_MS} ms (an implausible latency)`,
    })(target, key);
  };
}

export class BlockSignatureDto {
  @ApiProperty({ enum: SIGNATURE_OPS })
  @IsIn(SIGNATURE_OPS)
  op!: SignatureOp;

  @ApiProperty({ example: 3 })
  @IsInt()
  @Min(1)
  @Max(15)
  @ConsistentWithOp('kernel')
  kernel!: number;

  @ApiProperty({ example: 6 })
  @IsInt()
  @Min(1)
  @Max(16)
  @ConsistentWithOp('expansion')
  expansion!: number;

  @ApiProperty({ example: 1 })
  @IsInt()
  @Min(1)
  @Max(16)
  @ConsistentWithOp('groups')
  groups!: number;

  @ApiProperty({ enum: [1, 2] })
  @IsIn([1, 2])
  stride!: number;

  @ApiProperty({ example: 16 })
  @IsInt()
  @Min(1)
  @Max(8192)
  cin!: number;

  @ApiProperty({ example: 24 })
  @IsInt()
  @Min(1)
  @Max(8192)
  cout!: number;

  @ApiProperty({ example: 56 })
  @IsInt()
  @Min(1)
  @Max(4096)
  height!: number;

  @ApiProperty({ example: 56 })
  @IsInt()
  @Min(1)
  @Max(4096)
  width!: number;

  @ApiProperty({ enum: ['relu'] })
  @IsIn(['relu'])
  activation!: 'relu';

  @ApiProperty({ example: 0, description: 'Head only: classifier outputs (0 for other ops)' })
  @IsInt()
  @Min(0)
  @Max(100000)
  @ConsistentWithOp('classes')
  classes!: number;
}

class LatencyStatsDto {
  @ApiProperty({
    example: 'a4c1b6f0-3f5e-4d0c-9a55-0c8a2b9d1e11',
    description: 'Client-chosen id; retries reuse it',
  })
  @IsString()
  @Matches(ID_PATTERN, {
    message: 'id must be 1–128 characters of letters, digits, . _ : -, starting alphanumeric',
  })
  id!: string;

  @ApiProperty({ example: 0.41 })
  @LatencyMs()
  estimateMs!: number;

  @ApiProperty({ example: 0.45 })
  @LatencyMs()
  @NotLessThan('p10Ms')
  medianMs!: number;

  @ApiProperty({ example: 0.4 })
  @LatencyMs()
  p10Ms!: number;

  @ApiProperty({ example: 0.52 })
  @LatencyMs()
  @NotLessThan('medianMs')
  p90Ms!: number;

  @ApiProperty({ example: 5 })
  @IsInt()
  @Min(1)
  @Max(100000)
  rounds!: number;

  @ApiProperty({ example: 20 })
  @IsInt()
  @Min(1)
  @Max(1000000)
  repeatsPerRound!: number;

  @ApiProperty({ example: 5 })
  @IsInt()
  @Min(0)
  @Max(1000000)
  warmupRuns!: number;

  @ApiProperty({ example: '0.1.0' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  agentVersion!: string;

  @ApiProperty({ example: '2026-01-01T12:00:00.000Z' })
  @IsISO8601({ strict: true })
  @NotInFuture()
  measuredAt!: string;

  @ApiProperty()
  @IsBoolean()
  driftFlagged!: boolean;
}

export class BlockMeasurementDto extends LatencyStatsDto {
  @ApiProperty({ type: BlockSignatureDto })
  @NestedObject(
    () => BlockSignatureDto,
    'op, kernel, expansion, groups, stride, cin, cout, height, width, activation, classes',
  )
  signature!: BlockSignatureDto;

  @ApiProperty({ example: 0.05, description: 'Per-run overhead of an isolated model (null model), ms' })
  @LatencyMs()
  overheadMs!: number;
}

export class ArchitectureMeasurementDto extends LatencyStatsDto {
  @ApiProperty({ example: 'proxy-28', description: 'Macro config or canonical geometry name' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  space!: string;

  @ApiProperty({ description: 'Compact architecture string' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2000)
  architecture!: string;

  @ApiPropertyOptional({ description: 'The verification request this measurement answers' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: 'verificationId must be an id of a verification request' })
  verificationId?: string;

  @ApiPropertyOptional({
    enum: ARCHITECTURE_MEASUREMENT_PURPOSES,
    description:
      'Calibration work the server handed out: a calibration-set member, or a reference network re-measured ' +
      'to follow drift. Not with verificationId.',
  })
  @IsOptional()
  @IsIn(ARCHITECTURE_MEASUREMENT_PURPOSES, {
    message: `purpose must be one of ${ARCHITECTURE_MEASUREMENT_PURPOSES.join(', ')}`,
  })
  purpose?: ArchitectureMeasurementPurpose;

  @ApiPropertyOptional({
    enum: FINAL_MODEL_FILES,
    description:
      "A final model's file was measured (downloaded for a verification request that names it), not the " +
      'architecture built by the agent. Only with the verificationId of such a request, and its file.',
  })
  @IsOptional()
  @IsIn(FINAL_MODEL_FILES, { message: `modelFile must be one of ${FINAL_MODEL_FILES.join(', ')}` })
  modelFile?: FinalModelFile;
}

export class MeasurementBatchDto {
  @ApiPropertyOptional({ type: [BlockMeasurementDto], maxItems: MAX_MEASUREMENTS_PER_BATCH })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_MEASUREMENTS_PER_BATCH)
  @NestedObjects(() => BlockMeasurementDto, 'block measurements')
  blocks?: BlockMeasurementDto[];

  @ApiPropertyOptional({ type: [ArchitectureMeasurementDto], maxItems: MAX_MEASUREMENTS_PER_BATCH })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_MEASUREMENTS_PER_BATCH)
  @NestedObjects(() => ArchitectureMeasurementDto, 'architecture measurements')
  architectures?: ArchitectureMeasurementDto[];
}

export class UploadResultResponse {
  @ApiProperty({ description: 'Rows stored by this upload' }) accepted!: number;
  @ApiProperty({ description: 'Rows whose id was already stored (retries); not stored again' })
  duplicates!: number;
}
