import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ErrorBody, reasonPhrase } from './api-error';

/** The parts of an HTTP response the filter uses (express's response has them). */
interface HttpResponse {
  status(code: number): { json(body: unknown): void };
}

/**
 * Normalises every error into the standard body. Unexpected errors become a plain 500: their details go to
 * the log, never to the client. Also covers body-parser errors (malformed JSON, oversized bodies).
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<HttpResponse>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    }
    res.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const raw = exception.getResponse();
      if (typeof raw === 'object' && raw !== null && 'errors' in raw) return raw as ErrorBody;
      const rawMessage = typeof raw === 'string' ? raw : (raw as { message?: unknown }).message;
      const message = Array.isArray(rawMessage)
        ? rawMessage.join('; ')
        : typeof rawMessage === 'string'
          ? rawMessage
          : exception.message;
      return { statusCode: status, error: reasonPhrase(status), message, errors: [] };
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
    return { statusCode: 500, error: reasonPhrase(500), message: 'internal server error', errors: [] };
  }
}
