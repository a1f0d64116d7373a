import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModule } from '@nestjs/throttler';
import { ApiError } from '../common/api-error';
import type { Caller } from './caller';

/** How many requests one credential may make per window (one budget across all routes). */
export interface RateLimit {
  readonly limit: number;
  readonly windowMs: number;
}

type TrackedRequest = Record<string, unknown> & { caller?: Caller };

/**
 * Who a request is counted against: the user API key (by key id: `env-<n>` or the stored key's id), the device
 * (its token), or, without credentials that passed (public routes, refused credentials), the client IP.
 */
export function trackerOf(caller: Caller | undefined, ip: string): string {
  if (caller?.kind === 'user') return `key:${caller.keyId}`;
  if (caller?.kind === 'device') return `device:${caller.deviceId}`;
  return `ip:${ip}`;
}

/**
 * Per-credential rate limit, after AuthGuard (which has named the caller). Over the limit: 429 with
 * `Retry-After` (seconds) and the usual error body. Health routes and /metrics opt out with `@SkipThrottle()`.
 * Counts live in this process's memory.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(req: TrackedRequest): Promise<string> {
    return trackerOf(req.caller, await super.getTracker(req));
  }

  /** One budget per credential, whatever the route (the library's default keys by route too). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `${throttler}:${tracker}`;
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const who = detail.tracker.startsWith('key:')
      ? 'this API key'
      : detail.tracker.startsWith('device:')
        ? 'this device token'
        : 'this address';
    const reason =
      `rate limit exceeded: at most ${detail.limit} requests per ${Math.round(detail.ttl / 1000)} s for ${who}; ` +
      `retry in ${detail.timeToBlockExpire} s`;
    throw new ApiError(429, reason, [{ field: 'headers.authorization', reason }], {
      retryAfterSeconds: detail.timeToBlockExpire,
    });
  }
}

export function rateLimitModule(rateLimit: RateLimit) {
  return ThrottlerModule.forRoot({
    throttlers: [{ name: 'default', limit: rateLimit.limit, ttl: rateLimit.windowMs }],
  });
}
