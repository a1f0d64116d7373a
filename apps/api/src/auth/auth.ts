import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Repositories } from '@edgenas/storage';
import { ApiError } from '../common/api-error';
import { API_KEYS, REPOSITORIES } from '../tokens';
import type { Caller } from './caller';

export type { Caller } from './caller';
import { RateLimitGuard } from './rate-limit';

/**
 * Who may call a route: `user` = a user API key; `device` = the token of the device named by the route's
 * `:id`; `user-or-device` = either; `public` = anyone (health checks).
 */
export type AuthRequirement = 'user' | 'device' | 'user-or-device' | 'public';
const AUTH_REQUIREMENT = 'edgenas:auth';
export const RequireAuth = (requirement: AuthRequirement) => SetMetadata(AUTH_REQUIREMENT, requirement);

/** The parts of an HTTP request the guard reads (express's request has them). */
interface HttpRequest {
  headers: { authorization?: string };
  params?: Record<string, string>;
}
type AuthedRequest = HttpRequest & { caller?: Caller };

export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller | undefined => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().caller;
});

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A device token: high-entropy, so a fast hash suffices to store it. */
export function generateDeviceToken(): string {
  return `edt_${randomBytes(32).toString('base64url')}`;
}

/** The owner id of a user API key: a domain-separated, truncated digest, never the key itself. */
export function ownerOf(apiKey: string): string {
  return createHash('sha256').update(`edgenas-owner\n${apiKey}`).digest('hex').slice(0, 32);
}

/** Every generated user API key starts so (device tokens start with `edt_`). */
export const API_KEY_PREFIX = 'enk_';

export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/** `last_used_at` of a stored key is written at most this often, not on every request. */
const LAST_USED_GRANULARITY_MS = 60_000;

/** A key from EDGENAS_API_KEYS, as the API shows it: never the key, nor a digest a weak key could be guessed from. */
export interface EnvironmentKey {
  /** `env-<n>`: the key's position in EDGENAS_API_KEYS, from 1. */
  readonly id: string;
  readonly owner: string;
}

/** User API keys from the environment (the bootstrap keys), compared by hash in constant time. */
export class ApiKeySet {
  private readonly entries: { readonly hash: Buffer; readonly key: EnvironmentKey }[];
  constructor(keys: readonly string[]) {
    this.entries = keys
      .filter((k) => k.length > 0)
      .map((k, i) => ({
        hash: Buffer.from(hashSecret(k), 'hex'),
        key: { id: `env-${i + 1}`, owner: ownerOf(k) },
      }));
  }
  get size(): number {
    return this.entries.length;
  }
  has(candidate: string): boolean {
    return this.find(candidate) !== undefined;
  }
  /** The environment key equal to `candidate`, if any. */
  find(candidate: string): EnvironmentKey | undefined {
    const h = Buffer.from(hashSecret(candidate), 'hex');
    let found: EnvironmentKey | undefined;
    // every entry is compared, so the time taken does not tell which one matched
    for (const e of this.entries) if (timingSafeEqual(e.hash, h)) found = e.key;
    return found;
  }
  /** The environment keys acting for `owner` (at most one unless a key is listed twice). */
  ofOwner(owner: string): EnvironmentKey[] {
    return this.entries.filter((e) => e.key.owner === owner).map((e) => e.key);
  }
}

function bearer(req: HttpRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

const unauthorized = (reason: string) =>
  new ApiError(401, reason, [{ field: 'headers.authorization', reason }]);
const forbidden = (reason: string) => new ApiError(403, reason, [{ field: 'headers.authorization', reason }]);

/**
 * Global guard: every route needs a user key unless it declares otherwise with `RequireAuth`. Runs before
 * RateLimitGuard, which counts each request against the caller named here.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) private readonly apiKeys: ApiKeySet,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    private readonly rateLimit: RateLimitGuard,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await this.authenticate(context);
    } catch (err) {
      // refused credentials count against the client's address, so guessing keys meets the rate limit (429)
      if (err instanceof ApiError && err.getStatus() === 401) await this.rateLimit.canActivate(context);
      throw err;
    }
  }

  private async authenticate(context: ExecutionContext): Promise<boolean> {
    const requirement =
      this.reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'user';
    if (requirement === 'public') return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const token = bearer(req);
    if (!token) throw unauthorized('missing credentials: send "Authorization: Bearer <key or device token>"');

    const user = await this.userOf(token);
    if (user) {
      if (requirement === 'device')
        throw forbidden("this route takes the device's own token, not a user API key");
      req.caller = { kind: 'user', ...user };
      return true;
    }
    const deviceId = await this.repos.devices.findIdByTokenHash(hashSecret(token));
    if (!deviceId) {
      throw unauthorized(
        requirement === 'device'
          ? 'invalid device token'
          : 'invalid credentials: not a known API key or device token',
      );
    }
    if (requirement === 'user') throw forbidden('a device token cannot be used here; use a user API key');
    const routeDevice = req.params?.id;
    if (routeDevice !== deviceId)
      throw forbidden(`this device token belongs to another device, not "${routeDevice}"`);
    req.caller = { kind: 'device', deviceId };
    return true;
  }

  /**
   * The user a key acts for: an environment key, else a stored key that is not revoked. Stored keys are read
   * from the database on every request, so a revocation holds from the next request on.
   */
  private async userOf(token: string): Promise<{ owner: string; keyId: string } | undefined> {
    const env = this.apiKeys.find(token);
    if (env) return { owner: env.owner, keyId: env.id };
    if (!token.startsWith(API_KEY_PREFIX)) return undefined;
    const stored = await this.repos.apiKeys.findBySecretHash(hashSecret(token));
    if (!stored) return undefined;
    if (stored.revokedAt !== null)
      throw unauthorized(`this API key (${stored.id}) was revoked at ${stored.revokedAt}`);
    const now = new Date();
    // checked here first: most requests then make no write at all (SQLite takes its write lock even for none)
    if (
      stored.lastUsedAt === null ||
      Date.parse(stored.lastUsedAt) < now.getTime() - LAST_USED_GRANULARITY_MS
    ) {
      await this.repos.apiKeys.touch(stored.id, now, LAST_USED_GRANULARITY_MS);
    }
    return { owner: stored.owner, keyId: stored.id };
  }
}
