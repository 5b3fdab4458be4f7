import { ApiProperty } from '@nestjs/swagger';

/** One checkpoint as REST answers it, snake_case like the audit rows. */
export class AuditCheckpointDto {
  @ApiProperty({ type: 'integer', description: 'Place in the chain of checkpoints, from 1' })
  position!: number;
  @ApiProperty({ type: 'integer', description: 'The last sealed row it signs; 0: empty trail' })
  seq!: number;
  @ApiProperty({ description: "That row's hash (the genesis hash for an empty trail)" })
  hash!: string;
  @ApiProperty({ type: 'integer', description: 'Rows sealed since the previous checkpoint' })
  rows!: number;
  @ApiProperty({ format: 'date-time' }) time!: string;
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'SHA-256 of the previous checkpoint (its canonical JSON); null for the first',
  })
  prev_checkpoint!: string | null;
  @ApiProperty({ description: 'The signing key: SHA-256 of its SPKI DER, first 16 hex digits' })
  key_id!: string;
  @ApiProperty({ description: 'Ed25519 signature of the canonical JSON of the payload, base64' })
  signature!: string;
  @ApiProperty({ description: 'Its write-once file in AUDIT_CHECKPOINT_DIR' })
  file_name!: string;
}

export class AuditCheckpointsPageDto {
  @ApiProperty({ type: [AuditCheckpointDto], description: 'Newest first' })
  checkpoints!: AuditCheckpointDto[];
  @ApiProperty({
    type: 'string',
    nullable: true,
    description: 'Pass as cursor for the next page; null on the last page',
  })
  next_cursor!: string | null;
}

export class AuditCheckpointKeyDto {
  @ApiProperty() key_id!: string;
  @ApiProperty({ description: 'Ed25519 public key, SPKI PEM: audit:verify --public-key' })
  public_key_pem!: string;
}
