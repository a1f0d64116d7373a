import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { DeviceRecord, Repositories } from '@edgenas/storage';
import { generateDeviceToken, hashSecret } from '../auth/auth';
import { notFound } from '../common/api-error';
import { REPOSITORIES } from '../tokens';
import { DeviceResponse, RegisterDeviceDto, RegisteredDeviceResponse } from './devices.dto';

@ApiTags('devices')
@ApiBearerAuth()
@Controller('v1/devices')
export class DevicesController {
  constructor(@Inject(REPOSITORIES) private readonly repos: Repositories) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Register a device; returns its token once' })
  @ApiResponse({ status: 201, type: RegisteredDeviceResponse })
  async register(@Body() body: RegisterDeviceDto): Promise<DeviceRecord & { token: string }> {
    const token = generateDeviceToken();
    const device = await this.repos.devices.create({
      id: randomUUID(),
      name: body.name,
      profile: body.profile,
      tokenHash: hashSecret(token),
    });
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
