import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { databaseFault } from '@edgenas/storage';
import { ApiError, ErrorBody, reasonPhrase } from './api-error';

/** The parts of an HTTP request and response the filter uses (express's have them). */
interface HttpRequest {
  id?: unknown;
  method?: string;
  url?: string;
}
interface HttpResponse {
  headersSent?: boolean;
  status(code: number): { json(body: unknown): void };
}

/** The router's message for a path parameter that is not valid percent-encoded UTF-8. */
const UNDECODABLE_PARAM = /^Failed to decode param '/;

/**
 * Normalises every error into the standard body. Only errors the API raised on purpose (`ApiError`, Nest's 4xx
 * exceptions, body-parser's exposed 4xx) speak to the client; anything else — a TypeError, an SQL error, a
 * library's 5xx — becomes a plain 500 carrying the request id, with its details in the server log only. A fault
 * of the database itself (full disk, read-only file, I/O error, unreachable server) is a 503 that says which.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<HttpRequest>();
    const res = http.getResponse<HttpResponse>();
    const requestId = typeof req.id === 'string' ? req.id : undefined;
    let body = this.toBody(exception);
    const fault = body === undefined ? databaseFault(exception) : undefined;
    if (fault) {
      const detail = exception instanceof Error ? exception.message : String(exception);
      this.logger.error(`request ${requestId ?? '?'} ${req.method ?? ''} ${req.url ?? ''} failed: ${detail}`);
      body = {
        statusCode: 503,
        error: reasonPhrase(503),
        message: `database unavailable: ${fault.reason}; retry later`,
        errors: [{ field: 'database', reason: fault.reason }],
        ...(requestId ? { requestId } : {}),
      };
    } else if (body === undefined) {
      const detail = exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
      this.logger.error(`request ${requestId ?? '?'} ${req.method ?? ''} ${req.url ?? ''} failed: ${detail}`);
      body = {
        statusCode: 500,
        error: reasonPhrase(500),
        message: `internal server error${requestId ? ` (request id ${requestId}; the server log has the details)` : ''}`,
        errors: [],
        ...(requestId ? { requestId } : {}),
      };
    } else if (body.statusCode >= 500 && requestId) {
      body = { ...body, requestId };
    }
    if (res.headersSent) return;
    res.status(body.statusCode).json(body);
  }

  /** The body of an error meant for the client; undefined for an unexpected one. */
  private toBody(exception: unknown): ErrorBody | undefined {
    if (exception instanceof ApiError) return exception.getResponse() as ErrorBody;
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      // Nest's own: malformed or oversized bodies (Nest turns body-parser errors into these), unknown routes
      const status = exception.getStatus();
      const raw = exception.getResponse();
      if (typeof raw === 'object' && raw !== null && 'errors' in raw) return raw as ErrorBody;
      const rawMessage = typeof raw === 'string' ? raw : (raw as { message?: unknown }).message;
      const message = Array.isArray(rawMessage)
        ? rawMessage.join('; ')
        : typeof rawMessage === 'string'
          ? rawMessage
          : exception.message;
      // Nest maps the router's URIError for an undecodable path parameter to a 400 with the router's message
      const field = status === 404 || UNDECODABLE_PARAM.test(message) ? 'path' : 'body';
      return {
        statusCode: status,
        error: reasonPhrase(status),
        message,
        errors: [{ field, reason: message }],
      };
    }
    // body-parser errors carry an HTTP status and an `expose` flag
    const e = exception as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
    const status =
      typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
    if (status >= 400 && status < 500 && e.expose === true && typeof e.message === 'string') {
      return {
        statusCode: status,
        error: reasonPhrase(status),
        message: e.message,
        errors: [{ field: 'body', reason: e.message }],
      };
    }
    return undefined;
  }
}
