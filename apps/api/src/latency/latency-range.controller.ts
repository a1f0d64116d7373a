import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import {
  DEFAULT_RANGE_SAMPLES,
  DEFAULT_RANGE_SEED,
  latencyRange,
  missingSignatures,
} from '@edgenas/latency-predictor';
import { proxyConfigFor } from '@edgenas/search-space';
import { RequireAuth } from '../auth/auth';
import { parseInputShapeOrBadRequest, resolveSpaceOrBadRequest } from '../common/geometry';
import { isMissingSignatures, missingLutError } from '../common/missing-lut';
import { ErrorResponse, calibrationResponse } from '../common/responses';
import { DevicePredictors } from './device-predictors';

export const MAX_RANGE_SAMPLES = 5000;

export class LatencyRangeQueryDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  space!: string;

  @IsOptional()
  @Matches(/^\d+x\d+x\d+$/, { message: 'input must be HxWxC, e.g. 96x96x3' })
  input?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  classes?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RANGE_SAMPLES)
  samples?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  seed?: number;
}

@ApiTags('latency')
@ApiBearerAuth()
@Controller('v1/devices/:id')
export class LatencyRangeController {
  constructor(private readonly predictors: DevicePredictors) {}

  @Get('latency-range')
  @RequireAuth('user')
  @ApiOperation({
    summary: 'Latencies a space offers on a device, and a budget that splits it',
    description:
      'The exact fastest achievable latency, and the predicted latency of a seeded uniform sample of ' +
      'architectures (valid on the deployment geometry and on the proxy training geometry, as a job samples ' +
      'them): fastest, p10, median, p90 and slowest of the sample. `suggestedBudgetMs` is the median: half of ' +
      'random architectures fit it. 409 when the LUT cannot price the space yet.',
  })
  @ApiQuery({ name: 'space', required: true, example: 'fbnet-224@96x96x3-c10' })
  @ApiQuery({ name: 'input', required: false, example: '96x96x3' })
  @ApiQuery({ name: 'classes', required: false, example: 10 })
  @ApiQuery({ name: 'samples', required: false, example: DEFAULT_RANGE_SAMPLES })
  @ApiQuery({ name: 'seed', required: false, example: DEFAULT_RANGE_SEED })
  @ApiConflictResponse({ type: ErrorResponse, description: 'The LUT lacks signatures of the space' })
  async range(@Param('id') deviceId: string, @Query() q: LatencyRangeQueryDto) {
    const config = resolveSpaceOrBadRequest(
      q.space,
      q.input ? parseInputShapeOrBadRequest(q.input, 'input') : undefined,
      q.classes,
    );
    const predictor = await this.predictors.forGeometry(deviceId, config, 'id');
    const missing = missingSignatures(predictor.lut, config);
    if (missing.length > 0) throw missingLutError(deviceId, config.name, missing, 'id');
    const proxy = proxyConfigFor(config);
    try {
      const range = latencyRange(config, predictor.lut, predictor.calibration, {
        samples: q.samples,
        seed: q.seed,
        alsoValidFor: proxy === config ? [] : [proxy],
      });
      return {
        deviceId,
        space: config.name,
        ...range,
        calibrated: predictor.calibration !== undefined,
        lutVersion: predictor.lutVersion,
        calibration: calibrationResponse(predictor),
      };
    } catch (err) {
      if (isMissingSignatures(err)) throw missingLutError(deviceId, config.name, err.missing, 'id');
      throw err;
    }
  }
}
