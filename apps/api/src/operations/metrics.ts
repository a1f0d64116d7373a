import { Controller, Get, Header, Inject, Injectable } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JobStatus } from '@edgenas/contracts';
import { spaceSignatures } from '@edgenas/latency-predictor';
import { MACRO_CONFIGS, resolveSpace, signatureKey } from '@edgenas/search-space';
import { Repositories } from '@edgenas/storage';
import { RequireAuth } from '../auth/auth';
import { REPOSITORIES } from '../tokens';

const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];
/** Jobs whose deployment geometries get a coverage series. */
const RECENT_JOBS = 50;
const CANDIDATE_STATUSES = ['proposed', 'over-budget', 'trained', 'scored', 'failed'] as const;

/** The parts of express's request/response the HTTP timer reads. */
interface TimedRequest {
  method: string;
  route?: { path?: unknown };
  baseUrl?: string;
}
interface TimedResponse {
  statusCode: number;
  on(event: 'finish', listener: () => void): unknown;
}

/**
 * The API's Prometheus registry (one per app, so several apps in one process do not share counters): HTTP
 * latency by route pattern, and gauges read from the database at scrape time.
 */
@Injectable()
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  /** Block signatures per space at its default geometry (a pure function of the space; computed once). */
  private readonly spaceKeys = new Map<string, readonly string[]>();

  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {
    collectDefaultMetrics({ register: this.registry, prefix: 'edgenas_api_' });
    this.httpDuration = new Histogram({
      name: 'edgenas_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    new Gauge({
      name: 'edgenas_jobs',
      help: 'NAS jobs by stored status',
      labelNames: ['status'],
      registers: [this.registry],
      collect: async function (this: Gauge<'status'>) {
        const counts = await repos.operations.jobCountsByStatus();
        for (const status of new Set([...JOB_STATUSES, ...Object.keys(counts)]))
          this.set({ status }, counts[status] ?? 0);
      },
    });
    new Gauge({
      name: 'edgenas_active_job_candidates',
      help:
        'Candidates of queued or running jobs by status; "proposed" ones are being priced, trained or ' +
        'scored right now',
      labelNames: ['status'],
      registers: [this.registry],
      collect: async function (this: Gauge<'status'>) {
        const counts = await repos.operations.activeCandidateCountsByStatus();
        for (const status of new Set([...CANDIDATE_STATUSES, ...Object.keys(counts)]))
          this.set({ status }, counts[status] ?? 0);
      },
    });
    new Gauge({
      name: 'edgenas_measurements_ingested',
      help: 'Measurement rows stored from device agents, by kind (block or whole architecture)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect: async function (this: Gauge<'kind'>) {
        const rows = await repos.measurements.countRows();
        this.set({ kind: 'block' }, rows.blocks);
        this.set({ kind: 'architecture' }, rows.architectures);
      },
    });
    const spaceKeys = (name: string) => this.keysOf(name);
    new Gauge({
      name: 'edgenas_lut_coverage_ratio',
      help:
        "Share of a space's block signatures that a device's LUT has measured (default geometries, and those " +
        'of the last 50 jobs)',
      labelNames: ['device_id', 'device', 'space'],
      registers: [this.registry],
      collect: async function (this: Gauge<'device_id' | 'device' | 'space'>) {
        this.reset();
        const spaces = new Set(Object.keys(MACRO_CONFIGS));
        // deployment geometries that jobs asked for (e.g. fbnet-224@96x96x3-c10)
        for (const job of await repos.jobs.list({ limit: RECENT_JOBS })) {
          try {
            spaces.add(
              resolveSpace(job.input.space, { input: job.input.input, classes: job.input.classes }).name,
            );
          } catch {
            // a job whose space no longer resolves has no coverage to report
          }
        }
        for (const device of await repos.devices.list()) {
          const measured = await repos.measurements.measuredSignatureKeys(device.id);
          for (const space of spaces) {
            const needed = spaceKeys(space);
            const covered = needed.filter((k) => measured.has(k)).length;
            this.set({ device_id: device.id, device: device.name, space }, covered / needed.length);
          }
        }
      },
    });
  }

  private keysOf(space: string): readonly string[] {
    let keys = this.spaceKeys.get(space);
    if (!keys) {
      keys = [...new Set(spaceSignatures(resolveSpace(space)).map(signatureKey))];
      this.spaceKeys.set(space, keys);
    }
    return keys;
  }

  /** Express middleware timing every request; unmatched paths share one label so cardinality stays bounded. */
  httpTimer() {
    return (req: TimedRequest, res: TimedResponse, next: () => void): void => {
      const end = this.httpDuration.startTimer();
      res.on('finish', () => {
        // a wildcard here is a middleware's route (e.g. the logger's), not a handler's
        const path = req.route?.path;
        const route =
          typeof path === 'string' && !path.includes('*') ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
        end({ method: req.method, route, status_code: String(res.statusCode) });
      });
      next();
    };
  }
}

@ApiTags('health')
@Controller('metrics')
@SkipThrottle()
export class MetricsController {
  constructor(private readonly metrics: ApiMetrics) {}

  @Get()
  @RequireAuth('public')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
