import { ApiClient, ApiError, ApiUnreachableError, backoffDelay, withRetry } from './api-client';

describe('backoffDelay', () => {
  it('doubles from the base delay up to the cap, with ±20 % jitter', () => {
    const opts = { baseDelayMs: 500, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, opts, () => 0.5))).toEqual([
      500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect(backoffDelay(1, opts, () => 0)).toBe(400);
    expect(backoffDelay(1, opts, () => 0.999999)).toBe(600);
  });
});

describe('withRetry', () => {
  const fast = (slept: number[]) => ({
    attempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    sleep: async (ms: number) => {
      slept.push(ms);
    },
  });

  it('retries an unreachable server with growing delays, then succeeds', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await withRetry(async () => {
      if (++calls < 3) throw new ApiUnreachableError('down');
      return 'ok';
    }, fast(slept));
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(slept).toHaveLength(2);
    expect(slept[1]).toBeGreaterThan(slept[0]);
  });

  it('gives up after the last attempt and rethrows', async () => {
    const slept: number[] = [];
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new ApiError(503, { message: 'busy' }, 'uploading');
      }, fast(slept)),
    ).rejects.toThrow(/HTTP 503: busy/);
    expect(calls).toBe(4);
    expect(slept).toHaveLength(3);
  });

  it('does not retry a 4xx that retrying cannot fix', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new ApiError(400, { message: ['blocks.0.estimateMs must be positive'] }, 'uploading');
      }, fast([])),
    ).rejects.toThrow(/HTTP 400: blocks.0.estimateMs must be positive/);
    expect(calls).toBe(1);
  });
});

describe('ApiClient', () => {
  it('reports a closed port as unreachable (real connection attempt)', async () => {
    // Port 3299 is in this suite's range and nothing listens on it.
    const client = new ApiClient('http://127.0.0.1:3299/', 2000);
    await expect(client.work('d', 't', ['proxy-28'])).rejects.toBeInstanceOf(ApiUnreachableError);
    await expect(client.work('d', 't', ['proxy-28'])).rejects.toThrow(
      /fetching work: cannot reach http:\/\/127.0.0.1:3299 /,
    );
  });
});
