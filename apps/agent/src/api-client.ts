import {
  AgentWork,
  DeviceProfile,
  DeviceRegistration,
  MeasurementBatch,
  UploadResult,
} from '@edgenas/contracts';

/** `GET /v1/devices/:id`: what the agent compares before taking a device over. */
export interface DeviceRecordView {
  readonly id: string;
  readonly name: string;
  readonly profile: DeviceProfile;
}

/** The server could not be reached (connection refused, DNS, timeout): worth retrying later. */
export class ApiUnreachableError extends Error {
  override name = 'ApiUnreachableError';
}

/** The server answered with an error status. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status}${describeBody(body)}`);
  }

  /** 5xx and 429 may pass; other 4xx will not change by retrying. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }

  /** 401/403: the key or device token was refused; nothing in the request itself is at fault. */
  get credentialsRefused(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

function describeBody(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body) {
    const m = (body as { message: unknown }).message;
    return `: ${Array.isArray(m) ? m.join('; ') : String(m)}`;
  }
  return typeof body === 'string' && body ? `: ${body.slice(0, 300)}` : '';
}

/** The parts of the EdgeNAS HTTP API (/v1) a device agent uses. */
export class ApiClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  registerDevice(apiKey: string, name: string, profile: DeviceProfile): Promise<DeviceRegistration> {
    return this.request<DeviceRegistration>(
      'POST',
      '/v1/devices',
      apiKey,
      { name, profile },
      'registering the device',
    );
  }

  /** A registered device (user key). */
  device(apiKey: string, deviceId: string): Promise<DeviceRecordView> {
    return this.request<DeviceRecordView>(
      'GET',
      `/v1/devices/${encodeURIComponent(deviceId)}`,
      apiKey,
      undefined,
      'reading the device',
    );
  }

  /** A new token for a device this key registered; the old token stops working. */
  newDeviceToken(apiKey: string, deviceId: string): Promise<DeviceRegistration> {
    return this.request<DeviceRegistration>(
      'POST',
      `/v1/devices/${encodeURIComponent(deviceId)}/token`,
      apiKey,
      undefined,
      'taking over the device',
    );
  }

  work(deviceId: string, token: string, spaces: readonly string[]): Promise<AgentWork> {
    const q = spaces.length ? `?space=${encodeURIComponent(spaces.join(','))}` : '';
    return this.request<AgentWork>(
      'GET',
      `/v1/devices/${deviceId}/work${q}`,
      token,
      undefined,
      'fetching work',
    );
  }

  upload(deviceId: string, token: string, batch: MeasurementBatch): Promise<UploadResult> {
    return this.request<UploadResult>(
      'POST',
      `/v1/devices/${deviceId}/measurements`,
      token,
      batch,
      'uploading measurements',
    );
  }

  /** A final model's ONNX file a verification request asks this device to measure (`path` from the work). */
  async modelFile(path: string, token: string): Promise<Uint8Array> {
    const what = 'downloading a model file to measure';
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unreachable(what, this.base, err);
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text for the error message
      }
      throw new ApiError(res.status, parsed, what);
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  lut(deviceId: string, token: string, space: string): Promise<unknown> {
    return this.request(
      'GET',
      `/v1/devices/${deviceId}/lut?space=${encodeURIComponent(space)}`,
      token,
      undefined,
      'reading the LUT',
    );
  }

  private async request<T>(
    method: string,
    path: string,
    bearer: string,
    body: unknown,
    what: string,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw unreachable(what, this.base, err);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error message
    }
    if (!res.ok) throw new ApiError(res.status, parsed, what);
    return parsed as T;
  }
}

function unreachable(what: string, base: string, err: unknown): ApiUnreachableError {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
  return new ApiUnreachableError(`${what}: cannot reach ${base} (${cause})`);
}

export interface RetryOptions {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (err: Error, attempt: number, delayMs: number) => void;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Delay before retry `attempt` (1-based): base · 2^(attempt−1), capped, with ±20 % jitter. */
export function backoffDelay(
  attempt: number,
  opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  random = Math.random,
): number {
  const raw = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

export function isRetryable(err: unknown): boolean {
  return err instanceof ApiUnreachableError || (err instanceof ApiError && err.retryable);
}

/** Runs `fn`, retrying unreachable-server and 5xx/429 failures with exponential backoff. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = DEFAULT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= opts.attempts) throw err;
      const delay = backoffDelay(attempt, opts);
      opts.onRetry?.(err as Error, attempt, delay);
      await (opts.sleep ?? sleep)(delay);
    }
  }
}
