import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ArchitectureError, GeometryError, parseArchitecture, resolveSpace } from '@edgenas/search-space';
import { UploadResult } from '@edgenas/contracts';
import { MeasurementConflictError, Repositories } from '@edgenas/storage';
import { RequireAuth } from '../auth/auth';
import { ApiError, FieldError } from '../common/api-error';
import { ErrorResponse } from '../common/responses';
import { REPOSITORIES } from '../tokens';
import { MAX_CLOCK_SKEW_MINUTES } from '../common/timestamps';
import { MAX_MEASUREMENTS_PER_BATCH, MeasurementBatchDto, UploadResultResponse } from './measurements.dto';

/** The reason of a geometry or architecture error; anything else is unexpected and rethrown (a 500). */
function reasonOf(err: unknown): string {
  if (err instanceof GeometryError) return err.reason;
  if (err instanceof ArchitectureError) return err.message;
  throw err;
}

@ApiTags('measurements')
@ApiBearerAuth()
@Controller('v1/devices/:id/measurements')
export class MeasurementsController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {}

  @Post()
  @HttpCode(200)
  @RequireAuth('device')
  @ApiOperation({
    summary: "Upload a batch of measurements (the device's own token)",
    description:
      `Idempotent by measurement id: a retried upload counts duplicates and stores nothing twice; an id re-sent ` +
      `with different values is a 409. measuredAt may not lie more than ${MAX_CLOCK_SKEW_MINUTES} minutes ahead. ` +
      `At most ${MAX_MEASUREMENTS_PER_BATCH} rows per batch; one invalid row rejects the whole batch.`,
  })
  @ApiResponse({ status: 200, type: UploadResultResponse })
  @ApiResponse({
    status: 400,
    type: ErrorResponse,
    description: 'Invalid rows (every field named); nothing stored',
  })
  @ApiResponse({
    status: 409,
    type: ErrorResponse,
    description: 'A measurement id re-sent with different values (each named); nothing stored',
  })
  async upload(@Param('id') deviceId: string, @Body() body: MeasurementBatchDto): Promise<UploadResult> {
    const blocks = body.blocks ?? [];
    const architectures = body.architectures ?? [];
    const total = blocks.length + architectures.length;
    if (total === 0) {
      const reason = 'a batch needs at least one row in blocks or architectures';
      throw new ApiError(400, reason, [{ field: 'blocks', reason }]);
    }
    if (total > MAX_MEASUREMENTS_PER_BATCH) {
      const reason = `at most ${MAX_MEASUREMENTS_PER_BATCH} rows per batch (blocks + architectures), got ${total}`;
      throw new ApiError(400, reason, [{ field: 'architectures', reason }]);
    }

    // Checks that need the search space or the database, after the DTO checks: still all-or-nothing.
    const errors: FieldError[] = [];
    for (const [i, m] of architectures.entries()) {
      let config;
      try {
        config = resolveSpace(m.space);
      } catch (err) {
        errors.push({ field: `architectures.${i}.space`, reason: reasonOf(err) });
        continue;
      }
      if (config.name !== m.space) {
        errors.push({
          field: `architectures.${i}.space`,
          reason: `use the canonical geometry name "${config.name}" for "${m.space}"`,
        });
      }
      try {
        parseArchitecture(m.architecture, config);
      } catch (err) {
        errors.push({ field: `architectures.${i}.architecture`, reason: reasonOf(err) });
      }
      if (m.verificationId !== undefined && m.purpose !== undefined) {
        errors.push({
          field: `architectures.${i}.purpose`,
          reason: 'a measurement answers a verification request or serves calibration, not both',
        });
      } else if (m.verificationId !== undefined) {
        const request = await this.repos.verifications.get(m.verificationId);
        if (!request || request.deviceId !== deviceId) {
          errors.push({
            field: `architectures.${i}.verificationId`,
            reason: `no verification request "${m.verificationId}" for this device`,
          });
        } else if (request.architecture !== m.architecture || request.space !== m.space) {
          errors.push({
            field: `architectures.${i}.verificationId`,
            reason: `verification request "${m.verificationId}" asks for another architecture or space`,
          });
        } else if ((request.modelFile?.file ?? undefined) !== m.modelFile) {
          errors.push({
            field: `architectures.${i}.modelFile`,
            reason: request.modelFile
              ? `verification request "${m.verificationId}" asks for the ${request.modelFile.file} file of ` +
                `final model ${request.modelFile.finalModelId}: modelFile must be "${request.modelFile.file}"`
              : `verification request "${m.verificationId}" asks for the architecture, not a model file`,
          });
        }
      } else if (m.modelFile !== undefined) {
        errors.push({
          field: `architectures.${i}.modelFile`,
          reason: 'a model file is measured only to answer the verification request that names it',
        });
      }
    }
    if (errors.length > 0) {
      const shown = errors.slice(0, 5).map((e) => `${e.field}: ${e.reason}`);
      throw new ApiError(400, `invalid request: ${shown.join('; ')}`, errors);
    }

    try {
      const result = await this.repos.measurements.insertBatch(deviceId, { blocks, architectures });
      return { accepted: result.accepted, duplicates: result.duplicates };
    } catch (err) {
      if (!(err instanceof MeasurementConflictError)) throw err;
      const conflicts: FieldError[] = err.conflicts.map((c) => ({
        field: `${c.table}.${c.index}.id`,
        reason: c.otherDevice
          ? `measurement id "${c.id}" is already used by another device's measurement`
          : `measurement "${c.id}" was already stored with different values (${c.fields.join(', ')}); ` +
            'a retry must re-send the same values, a new measurement needs a new id',
      }));
      const shown = conflicts.slice(0, 5).map((e) => `${e.field}: ${e.reason}`);
      throw new ApiError(409, `nothing stored: ${shown.join('; ')}`, conflicts);
    }
  }
}
