import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { DeviceNameTakenError, DeviceRecord, Repositories } from '@edgenas/storage';
import { Caller, CurrentCaller, generateDeviceToken, hashSecret } from '../auth/auth';
import { ApiError, notFound } from '../common/api-error';
import { ErrorResponse } from '../common/responses';
import { REPOSITORIES } from '../tokens';
import { DeviceResponse, RegisterDeviceDto, RegisteredDeviceResponse } from './devices.dto';

function ownerOfCaller(caller: Caller | undefined): string {
  // user routes only: the guard has set a user caller
  if (caller?.kind !== 'user') throw new Error('a user route was reached without a user caller');
  return caller.owner;
}

@ApiTags('devices')
@ApiBearerAuth()
@Controller('v1/devices')
export class DevicesController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Register a device; returns its token once',
    description:
      'Names are unique per API key: a second device of the same name answers 409 with `existingDeviceId` ' +
      '(an agent that lost its token takes the device over with POST /v1/devices/:id/token).',
  })
  @ApiResponse({ status: 201, type: RegisteredDeviceResponse })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Invalid profile, every field named' })
  @ApiResponse({
    status: 409,
    type: ErrorResponse,
    description: 'This API key already has a device of that name',
  })
  async register(
    @Body() body: RegisterDeviceDto,
    @CurrentCaller() caller: Caller | undefined,
  ): Promise<DeviceRecord & { token: string }> {
    const token = generateDeviceToken();
    try {
      const device = await this.repos.devices.create({
        id: randomUUID(),
        name: body.name,
        profile: body.profile,
        tokenHash: hashSecret(token),
        owner: ownerOfCaller(caller),
      });
      return { ...device, token };
    } catch (err) {
      if (!(err instanceof DeviceNameTakenError)) throw err;
      const reason = `this API key already has a device named "${body.name}": ${err.existing.id}`;
      throw new ApiError(409, reason, [{ field: 'name', reason }], { existingDeviceId: err.existing.id });
    }
  }

  @Post(':id/token')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Issue a new token for a device this API key registered (the old token stops working)',
    description: 'For an agent that lost its state: it takes over its device instead of registering another.',
  })
  @ApiResponse({ status: 200, type: RegisteredDeviceResponse })
  @ApiResponse({ status: 403, type: ErrorResponse, description: 'Registered with another API key' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown device' })
  async newToken(
    @Param('id') id: string,
    @CurrentCaller() caller: Caller | undefined,
  ): Promise<DeviceRecord & { token: string }> {
    const device = await this.repos.devices.get(id);
    if (!device) throw notFound(`unknown device "${id}"`, 'id');
    const token = generateDeviceToken();
    if (!(await this.repos.devices.replaceToken(id, ownerOfCaller(caller), hashSecret(token)))) {
      const reason = `device ${id} was not registered with this API key`;
      throw new ApiError(403, reason, [{ field: 'id', reason }]);
    }
    return { ...device, token };
  }

  @Get()
  @ApiOperation({ summary: 'List devices' })
  @ApiResponse({ status: 200, type: [DeviceResponse] })
  list(): Promise<DeviceRecord[]> {
    return this.repos.devices.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device' })
  @ApiResponse({ status: 200, type: DeviceResponse })
  async get(@Param('id') id: string): Promise<DeviceRecord> {
    const device = await this.repos.devices.get(id);
    if (!device) throw notFound(`unknown device "${id}"`, 'id');
    return device;
  }
}
