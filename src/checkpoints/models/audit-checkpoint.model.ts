import { Field, Int, ObjectType } from '@nestjs/graphql';
import { PageInfo } from '../../common/graphql/page-info.model.js';

@ObjectType({ description: 'A signed checkpoint of the audit chain' })
export class AuditCheckpoint {
  @Field(() => Int, { description: 'place in the chain of checkpoints, from 1' })
  position!: number;
  @Field(() => Int, { description: 'the last sealed row it signs; 0 while the trail was empty' })
  seq!: number;
  @Field({ description: "that row's hash (the genesis hash for an empty trail)" })
  hash!: string;
  @Field(() => Int, { description: 'rows sealed since the previous checkpoint' })
  rows!: number;
  @Field(() => Date) time!: string;
  @Field(() => String, {
    nullable: true,
    description: 'SHA-256 of the previous checkpoint (its canonical JSON); null for the first',
  })
  prevCheckpoint!: string | null;
  @Field({ description: 'the signing key: SHA-256 of its SPKI DER, first 16 hex digits' })
  keyId!: string;
  @Field({ description: 'Ed25519 signature of the canonical JSON of the fields above, base64' })
  signature!: string;
  @Field({ description: 'its write-once file in AUDIT_CHECKPOINT_DIR' })
  fileName!: string;
}

@ObjectType()
export class AuditCheckpointConnection {
  @Field(() => [AuditCheckpoint], { description: 'Newest first' }) nodes!: AuditCheckpoint[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ description: 'The key checkpoints are verified with (audit:verify --public-key)' })
export class AuditCheckpointKey {
  @Field() keyId!: string;
  @Field({ description: 'Ed25519 public key, SPKI PEM' }) publicKeyPem!: string;
}
