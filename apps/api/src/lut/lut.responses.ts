import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ARCHITECTURE_MEASUREMENT_PURPOSES, FINAL_MODEL_FILES } from '@edgenas/contracts';
import { CalibrationSummaryResponse } from '../common/responses';
import { BlockSignatureDto } from '../measurements/measurements.dto';

/**
 * Response shapes of the LUT and agent work routes for the OpenAPI document. The work route returns the
 * contracts' `AgentWork`, which the agent's client reads; these classes mirror it.
 */
export class LutEntryResponse {
  @ApiProperty({ example: 'ir_k3_e6:s1:c16-24:56x56:relu' }) key!: string;
  @ApiProperty({ type: BlockSignatureDto }) signature!: BlockSignatureDto;
  @ApiProperty({ description: "Weighted median of the used rows' estimates (isolated block), ms" })
  estimateMs!: number;
  @ApiProperty({ description: 'What an isolated model pays that a network pays once, ms' })
  overheadMs!: number;
  @ApiProperty({ description: 'Standard deviation of the estimate, ms' }) spreadMs!: number;
  @ApiProperty({ description: 'Rows seen for this signature' }) count!: number;
  @ApiProperty() used!: number;
  @ApiProperty({ description: 'Rejected as outliers (MAD rule) or unusable' }) rejected!: number;
  @ApiProperty({ description: 'Drift-flagged rows left out while enough clean rows exist' })
  driftExcluded!: number;
  @ApiProperty() driftFlagged!: boolean;
  @ApiProperty({ description: 'ISO 8601' }) lastMeasuredAt!: string;
}

export class LutCoverageResponse {
  @ApiProperty() covered!: number;
  @ApiProperty() total!: number;
  @ApiProperty({ description: 'covered / total' }) ratio!: number;
  @ApiProperty({ description: 'Signatures still missing' }) missing!: number;
}

export class LutResponse {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Canonical geometry name; null: every entry' })
  space!: string | null;
  @ApiProperty({ nullable: true, type: LutCoverageResponse }) coverage!: LutCoverageResponse | null;
  @ApiPropertyOptional({ description: 'Hash of the block rows the LUT was built from (with space)' })
  lutVersion?: string;
  @ApiPropertyOptional({ nullable: true, type: CalibrationSummaryResponse })
  calibration?: CalibrationSummaryResponse | null;
  @ApiPropertyOptional({ description: 'End-to-end measured architectures of this geometry' })
  calibrationArchitectures?: number;
  @ApiPropertyOptional({ description: 'Calibration-set members measured so far' })
  calibrationSetMeasured?: number;
  @ApiPropertyOptional({ type: [String], description: 'Reference networks tracking drift' })
  referenceNetworks?: readonly string[];
  @ApiPropertyOptional({ nullable: true, type: String }) calibrationNote?: string | null;
  @ApiProperty({ type: [LutEntryResponse] }) entries!: LutEntryResponse[];
}

export class MissingSignaturesResponse {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ description: 'Canonical geometry name' }) space!: string;
  @ApiProperty({ type: [BlockSignatureDto] }) missing!: BlockSignatureDto[];
  @ApiProperty({ type: [String], description: 'Keys of `missing`, in the same order' }) keys!: string[];
}

export class VerificationRequestResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'fbnet-224@160x160x3-c10' }) space!: string;
  @ApiProperty() architecture!: string;
}

export class ModelFileVerificationRequestResponse extends VerificationRequestResponse {
  @ApiProperty() finalModelId!: string;
  @ApiProperty({ enum: FINAL_MODEL_FILES }) file!: string;
  @ApiProperty({ description: 'API path to download the file from, with the device token' }) path!: string;
}

export class CalibrationWorkItemResponse {
  @ApiProperty({ example: 'proxy-28' }) space!: string;
  @ApiProperty() architecture!: string;
  @ApiProperty({ enum: ARCHITECTURE_MEASUREMENT_PURPOSES }) purpose!: string;
}

export class AgentWorkResponse {
  @ApiProperty() deviceId!: string;
  @ApiProperty({
    type: [String],
    description: 'Geometries covered: those asked for and those of active jobs',
  })
  spaces!: string[];
  @ApiProperty({ type: [BlockSignatureDto], description: 'Signatures the LUT lacks' })
  missing!: BlockSignatureDto[];
  @ApiProperty({ type: [String], description: 'Keys of `missing`, in the same order' }) keys!: string[];
  @ApiProperty({ type: [VerificationRequestResponse] }) verifications!: VerificationRequestResponse[];
  @ApiProperty({
    type: [ModelFileVerificationRequestResponse],
    description:
      "Final models' files to measure: download each from `path`, measure it end to end and upload an " +
      'architecture measurement with `verificationId` = `id` and `modelFile` = `file`',
  })
  modelFiles!: ModelFileVerificationRequestResponse[];
  @ApiProperty({ type: [CalibrationWorkItemResponse] }) calibration!: CalibrationWorkItemResponse[];
}
