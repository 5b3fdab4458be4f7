import { registerEnumType } from '@nestjs/graphql';

/** The lock changes as GraphQL names them (ENABLE, EXTEND), whose values are the domain's. */
export enum VaultLockActionEnum {
  ENABLE = 'enable',
  EXTEND = 'extend',
}

registerEnumType(VaultLockActionEnum, { name: 'VaultLockAction' });
