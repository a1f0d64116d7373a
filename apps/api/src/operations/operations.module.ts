import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ApiMetrics, MetricsController } from './metrics';
import { ReadinessController } from './readiness.controller';

/** What operators need: /health/live, /health/ready (Terminus) and /metrics (Prometheus). */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [ReadinessController, MetricsController],
  providers: [ApiMetrics],
  exports: [ApiMetrics],
})
export class OperationsModule {}
