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

/**
 * Who may call a route: `user` = a user API key; `device` = the token of the device named by the route's
 * `:id`; `user-or-device` = either; `public` = anyone (health checks).
 */
export type AuthRequirement = 'user' | 'device' | 'user-or-device' | 'public';
const AUTH_REQUIREMENT = 'edgenas:auth';
export const RequireAuth = (requirement: AuthRequirement) => SetMetadata(AUTH_REQUIREMENT, requirement);

/** A user is known by `owner`, a digest of their API key (what is stored beside the devices they register). */
export type Caller =
  { readonly kind: 'user'; readonly owner: string } | { readonly kind: 'device'; readonly deviceId: string };

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

export function generateApiKey(): string {
  return `enk_${randomBytes(24).toString('base64url')}`;
}

/** User API keys, compared by hash in constant time. */
export class ApiKeySet {
  private readonly hashes: Buffer[];
  constructor(keys: readonly string[]) {
    this.hashes = keys.filter((k) => k.length > 0).map((k) => Buffer.from(hashSecret(k), 'hex'));
  }
  get size(): number {
    return this.hashes.length;
  }
  has(candidate: string): boolean {
    const h = Buffer.from(hashSecret(candidate), 'hex');
    let found = false;
    for (const known of this.hashes) found = timingSafeEqual(known, h) || found;
    return found;
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

/** Global guard: every route needs a user key unless it declares otherwise with `RequireAuth`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) private readonly apiKeys: ApiKeySet,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const requirement =
      this.reflector.getAllAndOverride<AuthRequirement | undefined>(AUTH_REQUIREMENT, [
        context.getHandler(),
        context.getClass(),
      ]) ?? 'user';
    if (requirement === 'public') return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const token = bearer(req);
    if (!token) throw unauthorized('missing credentials: send "Authorization: Bearer <key or device token>"');

    if (requirement !== 'device' && this.apiKeys.has(token)) {
      req.caller = { kind: 'user', owner: ownerOf(token) };
      return true;
    }
    if (requirement === 'device' && this.apiKeys.has(token)) {
      throw forbidden("this route takes the device's own token, not a user API key");
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
}
