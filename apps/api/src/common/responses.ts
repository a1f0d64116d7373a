import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DevicePredictor } from '@edgenas/latency-predictor';

/** Response shapes for the OpenAPI document (the handlers return plain objects of these shapes). */
export class FieldErrorResponse {
  @ApiProperty({ example: 'blocks.3.signature.kernel' }) field!: string;
  @ApiProperty({ example: 'kernel must be 5 for op ir_k5_e6 (got 3)' }) reason!: string;
}

export class ErrorResponse {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ type: [FieldErrorResponse] }) errors!: FieldErrorResponse[];
  @ApiPropertyOptional({ description: '5xx: the request id, under which the server log has the cause' })
  requestId?: string;
}

export class BreakdownItemResponse {
  @ApiProperty({ oneOf: [{ type: 'number' }, { type: 'string', enum: ['stem', 'head'] }] }) layer!:
    number | string;
  @ApiProperty({ example: 'ir_k3_e6' }) block!: string;
  @ApiProperty({ nullable: true, type: String, example: 'ir_k3_e6:s1:c16-24:56x56:relu' }) key!:
    string | null;
  @ApiProperty({ description: 'Overhead-corrected contribution, ms' }) ms!: number;
  @ApiProperty() estimated!: boolean;
}

export class CalibrationSummaryResponse {
  @ApiProperty({
    example: '3f9a0c1d2b4e5f60',
    description: 'Hash of the LUT version and the end-to-end rows used: same version, same predictions',
  })
  version!: string;
  @ApiProperty({ example: 'sum+constant' }) model!: string;
  @ApiProperty({ description: 'End-to-end measured architectures it was fitted on' }) samples!: number;
  @ApiProperty({ description: 'Relative standard deviation of a prediction (cross-validated RMSPE)' })
  residualSigmaRel!: number;
  @ApiProperty({ description: 'The newest measurement the fit rests on (ISO 8601)' }) fittedAt!: string;
  @ApiProperty({
    description: "Reference networks' latest latency over their latency in the fit (1 = not re-measured yet)",
  })
  driftScale!: number;
  @ApiProperty({ description: 'Reference networks the drift scale used' }) referenceSamples!: number;
  @ApiProperty({ description: 'The last end-to-end check: newest reference re-measurement, else fittedAt' })
  checkedAt!: string;
  @ApiProperty({ description: 'Drift flagged or the last check too old: the agent is asked to re-measure' })
  stale!: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) staleReason!: string | null;
}

/** The calibration a predictor applies, as every route reports it; null while uncalibrated. */
export function calibrationResponse(p: DevicePredictor): CalibrationSummaryResponse | null {
  const info = p.calibrationInfo;
  if (!info || !p.calibration) return null;
  return {
    version: info.version,
    model: info.model,
    samples: info.samples,
    residualSigmaRel: p.calibration.residualSigmaRel,
    fittedAt: info.fittedAt,
    driftScale: info.driftScale,
    referenceSamples: info.referenceSamples,
    checkedAt: info.checkedAt,
    stale: info.stale,
    staleReason: info.staleReason,
  };
}

export class PredictionResponse {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ example: 'proxy-28' }) space!: string;
  @ApiProperty() architecture!: string;
  @ApiProperty() architectureId!: string;
  @ApiProperty({ description: 'Predicted end-to-end latency, ms' }) latencyMs!: number;
  @ApiProperty({ description: 'One standard deviation, ms' }) uncertaintyMs!: number;
  @ApiProperty({ description: 'Whether a calibration from end-to-end measurements was applied' })
  calibrated!: boolean;
  @ApiProperty({ description: "Hash of the ids of the LUT's block rows this geometry uses" })
  lutVersion!: string;
  @ApiPropertyOptional({ nullable: true, type: CalibrationSummaryResponse })
  calibration!: CalibrationSummaryResponse | null;
  @ApiPropertyOptional({ nullable: true, type: String }) calibrationNote!: string | null;
  @ApiProperty({ description: 'Per-run overhead a whole network pays once, ms' }) networkOverheadMs!: number;
  @ApiProperty({ description: 'Raw Σ of isolated-block estimates, ms' }) lutSumMs!: number;
  @ApiProperty({ description: 'Σ (estimate − overhead) + one network overhead, ms' }) correctedSumMs!: number;
  @ApiProperty({ type: [String], description: 'LUT keys estimated from MACs (allowEstimates)' })
  estimated!: readonly string[];
  @ApiProperty({ type: [BreakdownItemResponse] }) breakdown!: readonly BreakdownItemResponse[];
}
