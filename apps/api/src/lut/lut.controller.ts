import { Controller, Get, Inject, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import {
  AgentWork,
  CalibrationWorkItem,
  ModelFileVerificationRequest,
  VerificationRequest,
  verificationModelPath,
} from '@edgenas/contracts';
import {
  LutEntry,
  buildLut,
  calibrationWork,
  lutCoverage,
  missingSignatures,
  spaceSignatures,
} from '@edgenas/latency-predictor';
import {
  BlockSignature,
  MacroConfig,
  resolveSpace,
  signatureKey,
  splitSpaceList,
} from '@edgenas/search-space';
import { Repositories } from '@edgenas/storage';
import { RequireAuth } from '../auth/auth';
import { ApiError } from '../common/api-error';
import { parseInputShapeOrBadRequest, resolveSpaceOrBadRequest } from '../common/geometry';
import { calibrationResponse } from '../common/responses';
import { DevicePredictors } from '../latency/device-predictors';
import { REPOSITORIES } from '../tokens';
import { AgentWorkResponse, LutResponse, MissingSignaturesResponse } from './lut.responses';
import { ErrorResponse } from '../common/responses';

/** A deployment geometry's input and classes, laid onto `space`. */
class GeometryQueryDto {
  @IsOptional()
  @Matches(/^\d+x\d+x\d+$/, { message: 'input must be HxWxC, e.g. 224x224x3' })
  input?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  classes?: number;
}

export class LutQueryDto extends GeometryQueryDto {
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  space?: string;
}

export class MissingQueryDto extends GeometryQueryDto {
  @IsString({ message: 'space is required: a space name, e.g. proxy-28' })
  @IsNotEmpty()
  @MaxLength(100)
  space!: string;
}

export class WorkQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  space?: string;
}

function geometryOf(q: LutQueryDto & { space: string }): MacroConfig {
  return resolveSpaceOrBadRequest(
    q.space,
    q.input ? parseInputShapeOrBadRequest(q.input, 'input') : undefined,
    q.classes,
  );
}

@ApiTags('lut')
@ApiBearerAuth()
@Controller('v1/devices/:id')
export class LutController {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    private readonly predictors: DevicePredictors,
  ) {}

  @Get('lut')
  @RequireAuth('user-or-device')
  @ApiOperation({
    summary: 'LUT coverage and aggregated entries',
    description:
      'With `space`, coverage of every signature that geometry can use and its entries; without, all entries.',
  })
  @ApiQuery({ name: 'space', required: false, example: 'proxy-28' })
  @ApiQuery({ name: 'input', required: false, example: '28x28x1' })
  @ApiQuery({ name: 'classes', required: false, example: 10 })
  @ApiResponse({ status: 200, type: LutResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Unknown space or geometry out of range' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown device' })
  async lut(@Param('id') deviceId: string, @Query() q: LutQueryDto) {
    if (q.space === undefined) {
      const lut = buildLut((await this.predictors.rows(deviceId, 'id')).blocks);
      return { deviceId, space: null, coverage: null, entries: Object.values(lut) };
    }
    const config = geometryOf({ ...q, space: q.space });
    const p = await this.predictors.forGeometry(deviceId, config, 'id');
    const needed = spaceSignatures(config);
    const coverage = lutCoverage(p.lut, needed);
    const neededKeys = new Set(needed.map(signatureKey));
    const entries: LutEntry[] = Object.values(p.lut).filter((e) => neededKeys.has(e.key));
    return {
      deviceId,
      space: config.name,
      coverage: {
        covered: coverage.covered,
        total: coverage.total,
        ratio: coverage.ratio,
        missing: coverage.missing.length,
      },
      lutVersion: p.lutVersion,
      calibration: calibrationResponse(p),
      calibrationArchitectures: p.calibrationArchitectures,
      calibrationSetMeasured: p.calibrationSetMeasured.length,
      referenceNetworks: p.referenceNetworks,
      calibrationNote: p.calibrationNote ?? null,
      entries,
    };
  }

  @Get('lut/missing')
  @RequireAuth('user-or-device')
  @ApiOperation({ summary: 'Signatures the LUT still lacks for a space (geometry)' })
  @ApiQuery({ name: 'space', required: true, example: 'proxy-28' })
  @ApiQuery({ name: 'input', required: false, example: '28x28x1' })
  @ApiQuery({ name: 'classes', required: false, example: 10 })
  @ApiResponse({ status: 200, type: MissingSignaturesResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Unknown space or geometry out of range' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown device' })
  async missing(@Param('id') deviceId: string, @Query() q: MissingQueryDto) {
    const config = geometryOf(q);
    const p = await this.predictors.forGeometry(deviceId, config, 'id');
    const missing = missingSignatures(p.lut, config);
    return { deviceId, space: config.name, missing, keys: missing.map(signatureKey) };
  }

  @Get('work')
  @RequireAuth('device')
  @ApiOperation({
    summary: 'Work for a device agent',
    description:
      'Signatures missing for the given spaces (comma-separated) and for the deployment geometries of active ' +
      'jobs on this device, pending end-to-end verification requests, and calibration work: once a ' +
      "space's LUT is complete, its calibration set (whole networks spread over the predicted-latency " +
      'range), then its reference networks whenever drift was flagged or the last check is due.',
  })
  @ApiQuery({ name: 'space', required: false, example: 'proxy-28,fbnet-224' })
  @ApiResponse({ status: 200, type: AgentWorkResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Unknown space' })
  async work(@Param('id') deviceId: string, @Query() q: WorkQueryDto): Promise<AgentWork> {
    const configs = new Map<string, MacroConfig>();
    for (const space of splitSpaceList(q.space ?? '')) {
      const config = resolveSpaceOrBadRequest(space, undefined, undefined);
      configs.set(config.name, config);
    }
    for (const job of await this.repos.jobs.listActive()) {
      if (!job.input.deviceIds.includes(deviceId)) continue;
      try {
        const config = resolveSpace(job.input.space, job.input);
        configs.set(config.name, config);
      } catch {
        // a job whose space no longer resolves asks for nothing
      }
    }
    const rows = await this.predictors.rows(deviceId, 'id');
    const lut = buildLut(rows.blocks);
    const missing: BlockSignature[] = missingSignatures(lut, [...configs.values()]);
    const now = new Date();
    const calibration: CalibrationWorkItem[] = [...configs.values()].flatMap((config) =>
      calibrationWork(this.predictors.build(rows, config, now), now, this.predictors.policy),
    );
    const verifications: VerificationRequest[] = [];
    const modelFiles: ModelFileVerificationRequest[] = [];
    for (const v of await this.repos.verifications.listPending(deviceId)) {
      const request = { id: v.id, space: v.space, architecture: v.architecture };
      if (!v.modelFile) verifications.push(request);
      else
        modelFiles.push({
          ...request,
          finalModelId: v.modelFile.finalModelId,
          file: v.modelFile.file,
          path: verificationModelPath(deviceId, v.id),
        });
    }
    return {
      deviceId,
      spaces: [...configs.keys()],
      missing,
      keys: missing.map(signatureKey),
      verifications,
      modelFiles,
      calibration,
    };
  }

  @Get('verifications/:verificationId/model')
  @RequireAuth('device')
  @ApiProduces('application/octet-stream')
  @ApiOperation({
    summary: "The final model's ONNX file a verification request asks this device to measure",
    description:
      'Only for a request of this device that names a final model file (see `modelFiles` in the work); the ' +
      'device token of another device is refused (403).',
  })
  @ApiResponse({ status: 200, description: 'The ONNX file (float or INT8)' })
  @ApiResponse({
    status: 404,
    type: ErrorResponse,
    description: 'No such request for this device, or it names no stored model file',
  })
  async verificationModel(
    @Param('id') deviceId: string,
    @Param('verificationId') verificationId: string,
  ): Promise<StreamableFile> {
    const request = await this.repos.verifications.get(verificationId);
    const ref = request?.deviceId === deviceId ? request.modelFile : null;
    const bytes = ref ? await this.repos.finalModels.file(ref.finalModelId, ref.file) : undefined;
    if (!ref || !bytes) {
      throw new ApiError(404, `no model file to measure for verification request "${verificationId}"`, [
        { field: 'verificationId', reason: 'no request of this device for a stored final model file' },
      ]);
    }
    return new StreamableFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      type: 'application/octet-stream',
      length: bytes.byteLength,
    });
  }
}
