import { Controller, Get } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireAuth } from '../auth/auth';

/** Liveness for load balancers and the launcher: no credentials, no I/O. */
@ApiTags('health')
@Controller('v1/health')
@SkipThrottle()
export class HealthController {
  @Get()
  @RequireAuth('public')
  @ApiOperation({ summary: 'Liveness check (no credentials needed)' })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
