import { Controller, Get, HttpCode, Inject, Logger, ServiceUnavailableException } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { HealthCheckResult } from '@nestjs/terminus';
import { Repositories, databaseFault } from '@edgenas/storage';
import { RequireAuth } from '../auth/auth';
import { ApiError } from '../common/api-error';
import { JobWorkflows } from '../jobs/job-workflows';
import { JOB_WORKFLOWS, REPOSITORIES } from '../tokens';

/** Liveness and readiness for orchestrators: no credentials. */
@ApiTags('health')
@Controller('health')
@SkipThrottle()
export class ReadinessController {
  private readonly logger = new Logger('ReadinessController');

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(JOB_WORKFLOWS) private readonly workflows: JobWorkflows,
  ) {}

  @Get('live')
  @RequireAuth('public')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process serves HTTP (no I/O)' })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HttpCode(200)
  @RequireAuth('public')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: the database and Temporal answer, and the database can write',
    description:
      '503 names the component that is down (`errors[].field`: database or temporal) and, for a fault of the ' +
      'database itself, what it is (e.g. `the disk holding the database is full`).',
  })
  async ready(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () =>
          this.probe('database', async () => {
            await this.repos.operations.ping();
            await this.repos.operations.checkWritable();
          }),
        () => this.probe('temporal', () => this.workflows.ping()),
      ]);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      const result = err.getResponse() as HealthCheckResult;
      const errors = Object.entries(result.error ?? {}).map(([field, v]) => ({
        field,
        reason: String((v as { message?: unknown }).message ?? 'down'),
      }));
      const reason = `not ready: ${errors.map((e) => `${e.field} (${e.reason})`).join(', ')}`;
      throw new ApiError(503, reason, errors, { status: result.status, details: result.details });
    }
  }

  private async probe(key: string, ping: () => Promise<void>) {
    const check = this.indicators.check(key);
    try {
      await ping();
      return check.up();
    } catch (err) {
      // the cause (addresses, driver messages) stays in the log: this route needs no credentials
      this.logger.warn(`readiness: ${key} is down: ${err instanceof Error ? err.message : String(err)}`);
      // a fault of the database itself is named (no path, no driver text); anything else stays generic
      const fault = key === 'database' ? databaseFault(err) : undefined;
      return check.down({ message: fault?.reason ?? 'not answering (the server log has the cause)' });
    }
  }
}
