import { Module } from '@nestjs/common';
import { KeysController } from './keys.controller';

/** User API keys kept in the database: create, list, revoke (/v1/keys). */
@Module({ controllers: [KeysController] })
export class KeysModule {}
