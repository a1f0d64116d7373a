import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The API answered with an error status: `message` is the API's own reason. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> | undefined,
  ) {
    super(message);
  }
}

/** Wrong usage or an answer the CLI cannot use (exit code 2 for usage, 1 otherwise). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Connection {
  readonly baseUrl: string;
  readonly apiKey: string;
}

/**
 * Where the API is and which key to use: flags, then EDGENAS_API_URL / EDGENAS_API_KEY, then what `npm start`
 * leaves behind (`$EDGENAS_DATA_DIR/api-key`, default `.edgenas/api-key` in the working directory).
 */
export function resolveConnection(
  flags: { api?: string; apiKey?: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
): Connection {
  const baseUrl = (flags.api ?? env.EDGENAS_API_URL ?? `http://localhost:${env.PORT ?? 3000}`).replace(
    /\/+$/,
    '',
  );
  if (!/^https?:\/\//.test(baseUrl)) throw new CliError(`--api must be an http(s) URL, got "${baseUrl}"`, 2);
  let apiKey = flags.apiKey ?? env.EDGENAS_API_KEY;
  if (!apiKey) {
    const file = join(resolve(cwd, env.EDGENAS_DATA_DIR || '.edgenas'), 'api-key');
    if (existsSync(file)) apiKey = readFileSync(file, 'utf8').trim();
  }
  if (!apiKey)
    throw new CliError(
      'no API key: pass --api-key, set EDGENAS_API_KEY, or run where `npm start` keeps .edgenas/api-key',
      2,
    );
  return { baseUrl, apiKey };
}

/** The API's reason for an error body: its message, then each field and reason when they add to it. */
function reasonOf(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as { message?: unknown; errors?: unknown };
    const message = typeof b.message === 'string' ? b.message : `HTTP ${status}`;
    // field errors whose reason the message does not already say
    const fields = Array.isArray(b.errors)
      ? (b.errors as { field?: unknown; reason?: unknown }[])
          .filter((e) => !message.includes(String(e.reason)))
          .map((e) => `${String(e.field)}: ${String(e.reason)}`)
      : [];
    return [message, ...fields].join('\n  ');
  }
  return typeof body === 'string' && body.trim() ? body.trim().slice(0, 500) : `HTTP ${status}`;
}

function isRawBody(body: unknown): body is { bytes: Buffer; contentType: string } {
  return typeof body === 'object' && body !== null && Buffer.isBuffer((body as { bytes?: unknown }).bytes);
}

/** The EdgeNAS HTTP API as the CLI uses it. */
export class EdgenasApi {
  constructor(
    private readonly connection: Connection,
    private readonly timeoutMs = 30_000,
  ) {}

  get baseUrl(): string {
    return this.connection.baseUrl;
  }

  get<T>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.json<T>('DELETE', path);
  }

  /** POSTs raw bytes (e.g. an image) and reads the JSON answer. */
  async postBytes<T>(path: string, bytes: Buffer, contentType: string): Promise<T> {
    const res = await this.send('POST', path, { bytes, contentType });
    return (await res.json()) as T;
  }

  async download(path: string): Promise<Buffer> {
    const res = await this.send('GET', path);
    return Buffer.from(await res.arrayBuffer());
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    return (await res.json()) as T;
  }

  /** `body`: JSON, or raw bytes with their content type. */
  private async send(
    method: string,
    path: string,
    body?: unknown | { bytes: Buffer; contentType: string },
  ): Promise<Response> {
    const url = `${this.connection.baseUrl}${path}`;
    const raw = isRawBody(body) ? body : undefined;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.connection.apiKey}`,
          ...(raw ? { 'Content-Type': raw.contentType } : {}),
          ...(body !== undefined && !raw ? { 'Content-Type': 'application/json' } : {}),
        },
        body: raw ? new Uint8Array(raw.bytes) : body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(
        `cannot reach the EdgeNAS API at ${this.connection.baseUrl} (${cause}); is it running?`,
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: the text itself is the reason
      }
      throw new ApiRequestError(
        res.status,
        reasonOf(res.status, parsed),
        parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined,
      );
    }
    return res;
  }
}
