import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  DEVICE_PRECISIONS,
  DevicePrecision,
  EVALUATION_MODES,
  EvaluationMode,
  JobStatus,
  PRESET_NAMES,
  SUPERNET_SAMPLINGS,
  SupernetSampling,
} from '@edgenas/contracts';

/**
 * Response shapes of the job routes for the OpenAPI document; they mirror the contracts' wire types
 * (CandidateSummary, BaselineSummary, NasJobProgress, NasJobResult, NasJobInput). The handlers return plain
 * objects of these shapes.
 */
const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];
const LATENCY_BY_DEVICE = {
  type: 'object',
  additionalProperties: { type: 'number' },
  description: 'Device id → ms',
} as const;

export class CandidateSummaryResponse {
  @ApiProperty() architectureId!: string;
  @ApiProperty({ example: 'ir_k3_e1/ir_k3_e6-skip-skip-skip/…' }) architecture!: string;
  @ApiProperty({ description: 'Validation top-1 in [0, 1]; see accuracySource' }) accuracy!: number;
  @ApiProperty({ description: "Worst predicted latency over the job's devices, ms" })
  predictedLatencyMs!: number;
  @ApiProperty(LATENCY_BY_DEVICE) predictedLatencyByDevice!: Readonly<Record<string, number>>;
  @ApiPropertyOptional({ ...LATENCY_BY_DEVICE, description: 'Measured end to end by device agents, ms' })
  measuredLatencyByDevice?: Readonly<Record<string, number>>;
  @ApiProperty() macs!: number;
  @ApiProperty() params!: number;
  @ApiPropertyOptional({
    enum: ['standalone', 'supernet', 'retrained'],
    description:
      'standalone: proxy-trained on its own; supernet: inherited supernet weights; retrained: mean over ' +
      'seedAccuracies of stand-alone retrainings',
  })
  accuracySource?: 'standalone' | 'supernet' | 'retrained';
  @ApiPropertyOptional({ description: "Supernet mode: the candidate's supernet score" })
  supernetAccuracy?: number;
  @ApiPropertyOptional({ description: 'Sample standard deviation over seeds (retrained)' })
  accuracySd?: number;
  @ApiPropertyOptional({ type: [Number], description: 'Accuracy per seed (retrained)' })
  seedAccuracies?: readonly number[];
  @ApiPropertyOptional({
    type: [String],
    description:
      'Architecture ids whose mean accuracy differs from this one by less than the larger seed range',
  })
  tiedWith?: readonly string[];
  @ApiPropertyOptional({
    description:
      'Supernet mode: the hand-designed baseline this front member is (e.g. mobilenetv2-like): one within the ' +
      'budget that no finalist dominates joins the front',
  })
  baseline?: string;
}

export class ParetoMemberResponse extends CandidateSummaryResponse {
  @ApiProperty({ nullable: true, type: String, description: 'ONNX download, once exported' })
  modelUrl!: string | null;
}

export class BaselineMemberResponse extends ParetoMemberResponse {
  @ApiProperty({ example: 'mobilenetv2-like' }) declare baseline: string;
  @ApiProperty({
    description:
      "Dominated by, or matched within the seed spread by, one of the search's finalists (what the search bought)",
  })
  coveredByFront!: boolean;
}

export class BaselineSummaryResponse extends CandidateSummaryResponse {
  @ApiProperty({ example: 'mobilenetv2-like' }) declare baseline: string;
  @ApiProperty() coveredByFront!: boolean;
}

export class SupernetArtifactResponse {
  @ApiProperty({
    description: 'Content key: space, proxy geometry, dataset, budget, sampling, seed, trainer version',
  })
  key!: string;
  @ApiProperty() steps!: number;
  @ApiProperty({ description: 'A complete artifact with this key was loaded instead of trained' })
  reused!: boolean;
  @ApiProperty() trainingMs!: number;
  @ApiProperty() sha256!: string;
}

export class JobProgressResponse {
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty() generation!: number;
  @ApiProperty() generations!: number;
  @ApiProperty({ description: 'Candidates evaluated so far' }) trained!: number;
  @ApiProperty() rejectedOverBudget!: number;
  @ApiProperty({ type: [CandidateSummaryResponse], description: 'Search front so far' })
  front!: readonly CandidateSummaryResponse[];
  @ApiProperty() hypervolume!: number;
  @ApiPropertyOptional({ example: 'supernet training 42 %', description: 'What the job is doing now' })
  activity?: string;
  @ApiPropertyOptional({ type: [Number], description: 'Search-front hypervolume after each generation' })
  hypervolumeHistory?: readonly number[];
}

export class JobResultResponse {
  @ApiProperty({
    type: [CandidateSummaryResponse],
    description: "The final front (supernet mode: the finalists' retrained accuracies)",
  })
  front!: readonly CandidateSummaryResponse[];
  @ApiProperty() trained!: number;
  @ApiProperty() hypervolume!: number;
  @ApiPropertyOptional({ enum: EVALUATION_MODES }) evaluationMode?: EvaluationMode;
  @ApiPropertyOptional({
    enum: DEVICE_PRECISIONS,
    description:
      "Precision the front was priced at (its devices' LUTs); absent on results from before precisions",
  })
  precision?: DevicePrecision;
  @ApiPropertyOptional({
    type: [CandidateSummaryResponse],
    description: 'Supernet mode: the search front scored by the supernet, before retraining',
  })
  searchFront?: readonly CandidateSummaryResponse[];
  @ApiPropertyOptional({ type: [BaselineSummaryResponse] }) baselines?: readonly BaselineSummaryResponse[];
  @ApiPropertyOptional({ type: SupernetArtifactResponse }) supernet?: SupernetArtifactResponse;
  @ApiPropertyOptional({ description: 'Subnets scored with inherited weights' }) scored?: number;
  @ApiProperty({ enum: ['budget', 'wall-clock', 'max-candidates'] }) stoppedBy!: string;
}

export class SupernetSpecResponse {
  @ApiProperty() steps!: number;
  @ApiProperty() batchSize!: number;
  @ApiProperty({ enum: SUPERNET_SAMPLINGS }) sampling!: SupernetSampling;
  @ApiProperty() recalibrationBatches!: number;
  @ApiProperty() scoreImages!: number;
}

export class FinalistSpecResponse {
  @ApiProperty() count!: number;
  @ApiProperty() seeds!: number;
  @ApiProperty() steps!: number;
  @ApiProperty() batchSize!: number;
}

export class EvaluationSpecResponse {
  @ApiProperty({ enum: EVALUATION_MODES }) mode!: EvaluationMode;
  @ApiPropertyOptional({ type: SupernetSpecResponse, description: 'Always set in supernet mode' })
  supernet?: SupernetSpecResponse;
  @ApiPropertyOptional({
    type: FinalistSpecResponse,
    description: 'Always set in supernet mode; in standalone mode when baselines are trained',
  })
  finalists?: FinalistSpecResponse;
  @ApiProperty() baselines!: boolean;
}

export class JobInputResponse {
  @ApiProperty() jobId!: string;
  @ApiProperty({ type: [String] }) deviceIds!: readonly string[];
  @ApiProperty() latencyBudgetMs!: number;
  @ApiProperty({ example: 'proxy-28' }) space!: string;
  @ApiProperty({ example: { height: 28, width: 28, channels: 1 } }) input!: object;
  @ApiProperty() classes!: number;
  @ApiProperty({ description: 'Proxy dataset and the standalone-mode training budget' }) proxy!: object;
  @ApiProperty({
    example: { generations: 8, population: 32, maxTrainedCandidates: 256, wallClockSeconds: 1800 },
  })
  budget!: object;
  @ApiProperty({ enum: ['nsga2', 'evolution', 'random'] }) strategy!: string;
  @ApiProperty() seed!: number;
  @ApiPropertyOptional({
    enum: DEVICE_PRECISIONS,
    description:
      'Precision the job deploys at, its devices are profiles of; absent on jobs from before: fp32',
  })
  precision?: DevicePrecision;
  @ApiPropertyOptional({
    type: EvaluationSpecResponse,
    description: 'Resolved from the preset and the request; absent on jobs created before evaluation modes',
  })
  evaluation?: EvaluationSpecResponse;
}

export class CreatedJobResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'queued' }) status!: string;
  @ApiProperty({
    type: JobInputResponse,
    description: `The NasJobInput the workflow was started with (preset — ${PRESET_NAMES.join(', ')} — and defaults filled in)`,
  })
  input!: JobInputResponse;
  @ApiProperty() createdAt!: string;
}

export class JobViewResponse {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ nullable: true, type: String, description: "Temporal's view of the workflow, when asked" })
  workflowStatus!: string | null;
  @ApiProperty({ type: JobInputResponse }) input!: JobInputResponse;
  @ApiProperty({ nullable: true, type: JobProgressResponse, description: 'While the workflow runs' })
  progress!: JobProgressResponse | null;
  @ApiProperty({ nullable: true, type: JobResultResponse }) result!: JobResultResponse | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class ParetoResponse {
  @ApiProperty() jobId!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty({ description: 'True once the job completed (else the front so far)' }) final!: boolean;
  @ApiProperty() latencyBudgetMs!: number;
  @ApiProperty({ enum: EVALUATION_MODES }) evaluationMode!: EvaluationMode;
  @ApiProperty({ nullable: true, type: Number }) hypervolume!: number | null;
  @ApiProperty({
    type: [ParetoMemberResponse],
    description:
      "Final: supernet mode's retrained finalists (mean ± sd, ties marked); running: the search front so far",
  })
  front!: readonly ParetoMemberResponse[];
  @ApiProperty({
    nullable: true,
    type: [ParetoMemberResponse],
    description: 'Supernet mode, final: the search front as the supernet scored it',
  })
  searchFront!: readonly ParetoMemberResponse[] | null;
  @ApiProperty({
    type: [BaselineMemberResponse],
    description: 'Hand-designed networks trained like the finalists',
  })
  baselines!: readonly BaselineMemberResponse[];
  @ApiProperty({ nullable: true, type: SupernetArtifactResponse }) supernet!: SupernetArtifactResponse | null;
  @ApiPropertyOptional({ type: [Number] }) hypervolumeHistory?: readonly number[];
}
