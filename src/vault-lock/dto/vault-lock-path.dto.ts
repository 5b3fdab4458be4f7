import { ApiProperty } from '@nestjs/swagger';
import {
  INSTANCE_ID_SCHEMA,
  IsInstanceId,
  IsProjectId,
  PROJECT_ID_SCHEMA,
} from '../../common/id-validators.js';

/** The REST path, named as in TaurusDB's own paths. */
export class VaultLockPathDto {
  @ApiProperty(PROJECT_ID_SCHEMA)
  @IsProjectId()
  project_id!: string;

  @ApiProperty(INSTANCE_ID_SCHEMA)
  @IsInstanceId()
  instance_id!: string;
}
