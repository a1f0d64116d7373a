import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { ApiKeyRecord, Repositories } from '@edgenas/storage';
import { ApiKeySet, Caller, CurrentCaller, EnvironmentKey, generateApiKey, hashSecret } from '../auth/auth';
import { ApiError, notFound } from '../common/api-error';
import { ErrorResponse } from '../common/responses';
import { API_KEYS, REPOSITORIES } from '../tokens';
import { CreateKeyDto, CreatedKeyResponse, KeyResponse } from './keys.dto';

type UserCaller = Extract<Caller, { kind: 'user' }>;

function userOf(caller: Caller | undefined): UserCaller {
  // user routes only: the guard has set a user caller
  if (caller?.kind !== 'user') throw new Error('a user route was reached without a user caller');
  return caller;
}

function storedView(key: ApiKeyRecord, caller: UserCaller): KeyResponse {
  return {
    id: key.id,
    name: key.name,
    source: 'stored',
    createdAt: key.createdAt,
    revokedAt: key.revokedAt,
    lastUsedAt: key.lastUsedAt,
    current: key.id === caller.keyId,
  };
}

function environmentView(key: EnvironmentKey, caller: UserCaller): KeyResponse {
  return {
    id: key.id,
    name: `EDGENAS_API_KEYS entry ${key.id.slice('env-'.length)}`,
    source: 'environment',
    createdAt: null,
    revokedAt: null,
    lastUsedAt: null,
    current: key.id === caller.keyId,
  };
}

/**
 * User API keys kept in the database. A key acts for its creator's owner: it sees and manages the same devices
 * as the key that made it. Keys from EDGENAS_API_KEYS are listed (without secrets) but only the environment
 * retires them.
 */
@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/keys')
export class KeysController {
  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(API_KEYS) private readonly environmentKeys: ApiKeySet,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a user API key; returns it once',
    description: 'The new key acts for the same owner as the key that creates it (same devices).',
  })
  @ApiResponse({ status: 201, type: CreatedKeyResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Missing or invalid name' })
  async create(
    @Body() body: CreateKeyDto,
    @CurrentCaller() caller: Caller | undefined,
  ): Promise<CreatedKeyResponse> {
    const user = userOf(caller);
    const secret = generateApiKey();
    const key = await this.repos.apiKeys.create({
      id: randomUUID(),
      owner: user.owner,
      name: body.name,
      secretHash: hashSecret(secret),
    });
    return { ...storedView(key, user), key: secret };
  }

  @Get()
  @ApiOperation({
    summary: "The caller's keys, revoked ones included (never their secrets)",
    description:
      'The EDGENAS_API_KEYS entry the caller acts for, if any, comes first with source `environment`.',
  })
  @ApiResponse({ status: 200, type: [KeyResponse] })
  async list(@CurrentCaller() caller: Caller | undefined): Promise<KeyResponse[]> {
    const user = userOf(caller);
    const stored = await this.repos.apiKeys.listByOwner(user.owner);
    return [
      ...this.environmentKeys.ofOwner(user.owner).map((k) => environmentView(k, user)),
      ...stored.map((k) => storedView(k, user)),
    ];
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke a key (idempotent)',
    description:
      'Refused (401) from the next request on, in every API process (keys are checked against the database ' +
      'on every request). Revoking a revoked key answers 200 with its first revocation time.',
  })
  @ApiResponse({ status: 200, type: KeyResponse })
  @ApiResponse({ status: 404, type: ErrorResponse, description: "Unknown key, or another owner's" })
  @ApiResponse({
    status: 409,
    type: ErrorResponse,
    description: 'An EDGENAS_API_KEYS key: remove it from the environment and restart to retire it',
  })
  async revoke(@Param('id') id: string, @CurrentCaller() caller: Caller | undefined): Promise<KeyResponse> {
    const user = userOf(caller);
    if (this.environmentKeys.ofOwner(user.owner).some((k) => k.id === id)) {
      const reason =
        `key ${id} comes from EDGENAS_API_KEYS (a bootstrap key) and cannot be revoked through the API; ` +
        'remove it from EDGENAS_API_KEYS and restart the API to retire it';
      throw new ApiError(409, reason, [{ field: 'id', reason }]);
    }
    const key = await this.repos.apiKeys.revoke(id, user.owner);
    if (!key) throw notFound(`unknown API key "${id}"`, 'id');
    return storedView(key, user);
  }
}
