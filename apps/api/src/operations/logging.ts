import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino, { DestinationStream, Level } from 'pino';
import pinoPretty from 'pino-pretty';

export interface ApiLogging {
  /** pino level (default `info`). */
  readonly level?: Level;
  /** Human-readable lines (pino-pretty) instead of JSON, for a console. */
  readonly pretty?: boolean;
  /** Where lines go (default stdout); tests pass a stream to read them. */
  readonly destination?: DestinationStream;
}

/** A caller's request id is kept when it is short and plain; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * The request's id: the caller's `x-request-id` when short and plain, else a new UUID; kept on the request
 * (`req.id`, where pino-http also keeps it) and echoed in the response header. Idempotent per request.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const known = (req as IncomingMessage & { id?: unknown }).id;
  if (typeof known === 'string') return known;
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** Express middleware: every request gets its id first, with or without JSON logs. */
export function requestIdMiddleware(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  assignRequestId(req, res);
  next();
}

/** Scrapes and probes every few seconds would drown the request log. */
function isProbe(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?')[0];
  return path === '/metrics' || path.startsWith('/health/') || path === '/v1/health';
}

/**
 * JSON logs (one object a line) through pino: each request logged once on completion with its id, method,
 * route, status and duration; Nest's own logs go through the same logger. Credentials are redacted.
 */
export function apiLoggerModule(options: ApiLogging): DynamicModule {
  const destination =
    options.destination ??
    (options.pretty
      ? pinoPretty({
          colorize: process.env.NO_COLOR === undefined,
          sync: true,
          singleLine: true,
          ignore: 'pid,hostname,service',
        })
      : undefined);
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: 'edgenas-api' },
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  return LoggerModule.forRoot({
    pinoHttp: {
      logger,
      genReqId: assignRequestId,
      customAttributeKeys: { reqId: 'requestId' },
      autoLogging: { ignore: isProbe },
      // one short line per request: what was asked and how it ended, not every header
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      quietReqLogger: true,
    },
  });
}
