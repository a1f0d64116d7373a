import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { GEOMETRY_LIMITS } from './geometry';

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
  @Min(1)
  @Max(GEOMETRY_LIMITS.maxChannels)
  channels!: number;
}
