import { Body, Controller, Get, HttpCode, Param, Post, StreamableFile } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiProduces,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { FinalModelStatus } from '@edgenas/contracts';
import { FinalModelFile } from '@edgenas/storage';
import { ErrorResponse } from '../common/responses';
import { FinalTrainingDto } from './final-models.dto';
import { FinalModelView, FinalModelsService } from './final-models.service';

const STATUSES: readonly FinalModelStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

/** Response shape for the OpenAPI document (the handlers return FinalModelView objects). */
class FinalModelResponse {
  @ApiProperty() id!: string;
  @ApiProperty() jobId!: string;
  @ApiProperty() architectureId!: string;
  @ApiProperty() architecture!: string;
  @ApiProperty({ enum: STATUSES }) status!: FinalModelStatus;
  @ApiPropertyOptional({
    nullable: true,
    description: 'phase (teacher, training, quantizing, verifying, completed), step, totalSteps, loss',
  })
  progress!: object | null;
  @ApiProperty({ description: 'The request with every default filled in' }) request!: object;
  @ApiPropertyOptional({
    nullable: true,
    description:
      'Model card once both files are stored: architecture, MACs, params, file sizes, dataset, geometry, ' +
      'accuracy float / INT8 in ONNX Runtime, quantization, predicted latency per device, training, ' +
      'distillation, warnings; once completed, the latency of both files measured on each device ' +
      '(measuredLatencyMs)',
  })
  card!: object | null;
  @ApiPropertyOptional({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ description: 'Download links (float, int8) once completed, else null' }) files!: object;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

@ApiTags('final models')
@ApiBearerAuth()
@Controller('v1/jobs')
export class FinalModelsController {
  constructor(private readonly finalModels: FinalModelsService) {}

  @Post(':id/architectures/:archId/final-training')
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Train a job's architecture for deployment: final training, INT8, both files evaluated, model card",
    description:
      'Defaults: 10 epochs (or `steps`), batch 64, the trainer’s learning rate (Adam 1e-2, cosine), random ' +
      'crop on, flip off, the job’s seed, no distillation (when asked: teacher = the job’s most accurate ' +
      'finalist, temperature 4, weight 0.5), 256 calibration images, precisions float32 and int8.',
  })
  @ApiResponse({ status: 202, type: FinalModelResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Invalid fields, each named' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown job, architecture or teacher' })
  @ApiResponse({
    status: 409,
    type: ErrorResponse,
    description: 'The job is not completed, or distillation has no teacher (naming what is missing)',
  })
  create(
    @Param('id') id: string,
    @Param('archId') archId: string,
    @Body() body: FinalTrainingDto,
  ): Promise<FinalModelView> {
    return this.finalModels.create(id, archId, body);
  }

  @Get(':id/final-models')
  @ApiOperation({ summary: "A job's final models, oldest first" })
  @ApiResponse({ status: 200, type: [FinalModelResponse] })
  list(@Param('id') id: string): Promise<FinalModelView[]> {
    return this.finalModels.list(id);
  }

  @Get(':id/final-models/:finalId')
  @ApiOperation({ summary: 'A final model: status, progress, request, model card and download links' })
  @ApiResponse({ status: 200, type: FinalModelResponse })
  get(@Param('id') id: string, @Param('finalId') finalId: string): Promise<FinalModelView> {
    return this.finalModels.get(id, finalId);
  }

  @Post(':id/final-models/:finalId/cancel')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Request cancellation; the training process stops, the status becomes cancelled',
    description:
      'Once both files are stored (phase verifying), only the on-device measurement stops: the model completes ' +
      'with the measurements already answered and the rest listed as not measured, with the reason.',
  })
  cancel(@Param('id') id: string, @Param('finalId') finalId: string) {
    return this.finalModels.cancel(id, finalId);
  }

  @Get(':id/final-models/:finalId/model.onnx')
  @ApiProduces('application/octet-stream')
  @ApiOperation({ summary: 'The trained float ONNX model (404 until completed)' })
  float(@Param('id') id: string, @Param('finalId') finalId: string): Promise<StreamableFile> {
    return this.download(id, finalId, 'float');
  }

  @Get(':id/final-models/:finalId/model.int8.onnx')
  @ApiProduces('application/octet-stream')
  @ApiOperation({ summary: 'The INT8 (static QDQ) ONNX model (404 until completed, or when not asked for)' })
  int8(@Param('id') id: string, @Param('finalId') finalId: string): Promise<StreamableFile> {
    return this.download(id, finalId, 'int8');
  }

  private async download(id: string, finalId: string, which: FinalModelFile): Promise<StreamableFile> {
    const bytes = await this.finalModels.file(id, finalId, which);
    const name = which === 'float' ? `${finalId}.onnx` : `${finalId}.int8.onnx`;
    return new StreamableFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      type: 'application/octet-stream',
      disposition: `attachment; filename="${name}"`,
      length: bytes.byteLength,
    });
  }
}
