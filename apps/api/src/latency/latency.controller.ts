import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsBoolean, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { predictLatency } from '@edgenas/latency-predictor';
import {
  Architecture,
  ArchitectureError,
  architectureId,
  formatArchitecture,
  parseArchitecture,
} from '@edgenas/search-space';
import { badRequest } from '../common/api-error';
import { resolveSpaceOrBadRequest } from '../common/geometry';
import { DeploymentGeometryDto } from '../common/input-shape.dto';
import { isMissingSignatures, missingLutError } from '../common/missing-lut';
import { ErrorResponse, PredictionResponse, calibrationResponse } from '../common/responses';
import { DevicePredictors } from './device-predictors';

export class PredictLatencyDto extends DeploymentGeometryDto {
  @ApiProperty({ description: 'Registered device id' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  deviceId!: string;

  @ApiProperty({ description: 'Compact architecture string (stages "/", layers "-")' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(2000)
  architecture!: string;

  @ApiPropertyOptional({
    description: 'Estimate missing LUT entries from MACs (flagged) instead of refusing',
  })
  @IsOptional()
  @IsBoolean()
  allowEstimates?: boolean;
}

@ApiTags('latency')
@ApiBearerAuth()
@Controller('v1/latency')
export class LatencyController {
  constructor(private readonly predictors: DevicePredictors) {}

  @Post('predict')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Predict the latency of an architecture on a device',
    description:
      'Σ LUT entries (overhead-corrected) + stem/head, calibrated on end-to-end measurements when there are ' +
      'enough; returns the uncertainty and the per-layer breakdown. 409 names missing LUT signatures.',
  })
  @ApiOkResponse({ type: PredictionResponse })
  @ApiConflictResponse({
    type: ErrorResponse,
    description: 'The LUT lacks signatures (missingCount, missing keys)',
  })
  async predict(@Body() body: PredictLatencyDto): Promise<PredictionResponse> {
    const config = resolveSpaceOrBadRequest(body.space, body.input, body.classes);
    let arch: Architecture;
    try {
      arch = parseArchitecture(body.architecture, config);
    } catch (err) {
      if (err instanceof ArchitectureError) throw badRequest('architecture', err.message);
      throw err;
    }
    const predictor = await this.predictors.forGeometry(body.deviceId, config);
    try {
      const p = predictLatency(arch, config, predictor.lut, predictor.calibration, {
        allowEstimates: body.allowEstimates ?? false,
      });
      return {
        deviceId: body.deviceId,
        space: config.name,
        architecture: formatArchitecture(arch, config),
        architectureId: architectureId(arch),
        latencyMs: p.latencyMs,
        uncertaintyMs: p.uncertaintyMs,
        calibrated: p.calibrated,
        lutVersion: predictor.lutVersion,
        calibration: calibrationResponse(predictor),
        calibrationNote: predictor.calibrationNote ?? null,
        lutSumMs: p.lutSumMs,
        correctedSumMs: p.correctedSumMs,
        networkOverheadMs: p.networkOverheadMs,
        estimated: p.estimated,
        breakdown: p.breakdown,
      };
    } catch (err) {
      if (isMissingSignatures(err)) throw missingLutError(body.deviceId, config.name, err.missing);
      throw err;
    }
  }
}
