import { ApiProperty } from '@nestjs/swagger';
import { IsInstanceId, IsProjectId } from '../../common/id-validators.js';
import { INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN } from '../../common/ids.js';

/** The REST path, named as in TaurusDB's own paths. */
export class VaultLockPathDto {
  @ApiProperty({ pattern: PROJECT_ID_PATTERN.source, example: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' })
  @IsProjectId()
  project_id!: string;

  @ApiProperty({
    pattern: INSTANCE_ID_PATTERN.source,
    example: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
  })
  @IsInstanceId()
  instance_id!: string;
}
