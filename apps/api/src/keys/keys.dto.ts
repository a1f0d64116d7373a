import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

export class CreateKeyDto {
  @ApiProperty({
    example: 'ci-runner',
    description: 'What the key is for (shown in lists; need not be unique)',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;
}

export class KeyResponse {
  @ApiProperty({
    example: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b',
    description: '`env-<n>` for EDGENAS_API_KEYS',
  })
  id!: string;
  @ApiProperty({ example: 'ci-runner' }) name!: string;
  @ApiProperty({
    enum: ['stored', 'environment'],
    description: '`environment`: an EDGENAS_API_KEYS entry (a bootstrap key; not revocable through the API)',
  })
  source!: 'stored' | 'environment';
  @ApiProperty({ nullable: true, type: String, description: 'Null for environment keys' })
  createdAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Updated at most once a minute' })
  lastUsedAt!: string | null;
  @ApiProperty({ description: 'Whether this request was made with this key' }) current!: boolean;
}

export class CreatedKeyResponse extends KeyResponse {
  @ApiProperty({ example: 'enk_…', description: 'The key, shown once; the server keeps only its hash' })
  key!: string;
}
