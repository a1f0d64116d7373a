import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { GEOMETRY_LIMITS } from '@edgenas/search-space';
import { OptionalNestedObject } from './nested';

export class InputShapeDto {
  @ApiProperty({ example: 224 })
  @IsInt()
  @Min(GEOMETRY_LIMITS.minSide)
  @Max(GEOMETRY_LIMITS.maxSide)
  height!: number;

  @ApiProperty({ example: 224 })
  @IsInt()
  @Min(GEOMETRY_LIMITS.minSide)
  @Max(GEOMETRY_LIMITS.maxSide)
  width!: number;

  @ApiProperty({ example: 3 })
  @IsInt()
  @Min(GEOMETRY_LIMITS.minChannels)
  @Max(GEOMETRY_LIMITS.maxChannels)
  channels!: number;
}

/** A search space laid onto a deployment geometry: what jobs and latency predictions are priced on. */
export class DeploymentGeometryDto {
  @ApiProperty({ example: 'fbnet-224', description: 'Macro config (search space) name' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  space!: string;

  @ApiPropertyOptional({ type: InputShapeDto, description: "Deployment input; default: the space's" })
  @OptionalNestedObject(() => InputShapeDto, 'height, width, channels')
  input?: InputShapeDto;

  @ApiPropertyOptional({ example: 10, description: "Deployment classes; default: the space's" })
  @IsOptional()
  @IsInt()
  @Min(GEOMETRY_LIMITS.minClasses)
  @Max(GEOMETRY_LIMITS.maxClasses)
  classes?: number;
}
