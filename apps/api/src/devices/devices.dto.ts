import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DEVICE_PRECISIONS, DevicePrecision } from '@edgenas/contracts';
import { NestedObject } from '../common/nested';

export class DeviceHardwareDto {
  @ApiProperty({ example: 'Intel(R) Xeon(R) CPU @ 2.20GHz' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  cpuModel!: string;

  @ApiProperty({ example: 2 })
  @IsInt()
  @Min(1)
  @Max(1024)
  cores!: number;

  @ApiProperty({ example: 4294967296 })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  memoryBytes!: number;

  @ApiProperty({ example: 'linux' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  os!: string;

  @ApiProperty({ example: 'x64' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(50)
  arch!: string;
}

export class DeviceRuntimeDto {
  @ApiProperty({ example: 'onnxruntime-node' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  engine!: string;

  @ApiProperty({ example: '1.30.0' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(50)
  engineVersion!: string;

  @ApiProperty({ example: 'cpu' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(50)
  executionProvider!: string;

  @ApiProperty({ example: 1 })
  @IsInt()
  @Min(1)
  @Max(1024)
  threads!: number;
}

export class DeviceProfileDto {
  @ApiProperty({ example: 'xeon-2c-ort1.30-1t' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ type: DeviceHardwareDto })
  @NestedObject(() => DeviceHardwareDto, 'cpuModel, cores, memoryBytes, os, arch')
  hardware!: DeviceHardwareDto;

  @ApiProperty({ type: DeviceRuntimeDto })
  @NestedObject(() => DeviceRuntimeDto, 'engine, engineVersion, executionProvider, threads')
  runtime!: DeviceRuntimeDto;

  @ApiPropertyOptional({
    enum: DEVICE_PRECISIONS,
    example: 'fp32',
    description:
      'Precision the device deploys and measures at (default fp32): int8 devices time static QDQ INT8 models. ' +
      'Part of the profile, like threads: one LUT per precision',
  })
  @IsOptional()
  @IsIn(DEVICE_PRECISIONS)
  precision?: DevicePrecision;
}

export class RegisterDeviceDto {
  @ApiProperty({ example: 'lab-pi-4', description: 'Human-readable device name' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @ApiProperty({ type: DeviceProfileDto })
  @NestedObject(() => DeviceProfileDto, 'name, hardware and runtime')
  profile!: DeviceProfileDto;
}

export class DeviceResponse {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: DeviceProfileDto }) profile!: DeviceProfileDto;
  @ApiProperty({ enum: DEVICE_PRECISIONS, description: "The profile's precision (fp32 when it named none)" })
  precision!: DevicePrecision;
  @ApiProperty() createdAt!: string;
}

export class RegisteredDeviceResponse extends DeviceResponse {
  @ApiPropertyOptional({ description: 'Device token, shown once; the server keeps only its hash' })
  token!: string;
}
