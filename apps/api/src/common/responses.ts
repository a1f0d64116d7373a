import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

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
  @ApiProperty({ example: 'sum+constant' }) model!: string;
  @ApiProperty({ description: 'End-to-end measured architectures it was fitted on' }) samples!: number;
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
