import { Field, ID, ObjectType } from '@nestjs/graphql';
import { PageInfo } from '../../common/graphql/page-info.model.js';
import { VaultLockActionEnum } from '../../common/graphql/vault-lock-action.enum.js';
import { BackupVaultLock } from '../../vault-lock/models/backup-vault-lock.model.js';

@ObjectType()
export class InstanceTag {
  @Field() key!: string;
  @Field() value!: string;
}

@ObjectType()
export class FleetInstance {
  @Field(() => ID) instanceId!: string;
  @Field() name!: string;
  @Field() status!: string;
  @Field() enterpriseProjectId!: string;
  @Field(() => [InstanceTag]) tags!: InstanceTag[];

  @Field(() => BackupVaultLock, { nullable: true, description: 'null when it could not be read' })
  lock!: BackupVaultLock | null;

  @Field(() => String, {
    nullable: true,
    description: 'the error code of a lock read that failed (e.g. APIGW.0308, GW.UPSTREAM_ERROR)',
  })
  lockError!: string | null;

  @Field(() => [VaultLockActionEnum], { description: "what the caller's policy lets it do here" })
  allowedActions!: string[];
}

@ObjectType()
export class FleetConnection {
  @Field(() => [FleetInstance]) nodes!: FleetInstance[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}
