import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class AuditEnv {
  @IsOptional() @IsString() @IsNotEmpty() AUDIT_SQLITE_PATH?: string;
  // require_host is off so that socket URLs such as postgresql:///audit?host=/run/postgresql pass.
  @IsOptional()
  @IsUrl(
    {
      protocols: ['postgres', 'postgresql'],
      require_protocol: true,
      require_tld: false,
      require_host: false,
    },
    { message: 'AUDIT_DATABASE_URL must be a postgres:// or postgresql:// URL' },
  )
  AUDIT_DATABASE_URL?: string;
  @IsOptional()
  @IsIn(['auto', 'off'], { message: 'AUDIT_MIGRATE must be auto or off' })
  AUDIT_MIGRATE?: 'auto' | 'off';
  @IsOptional() @IsInt() @Min(1) @Max(3600) AUDIT_REPLICA_LEASE_SECONDS?: number;
}

export const DEFAULT_REPLICA_LEASE_SECONDS = 30;

export interface AuditConfig {
  /** Absolute path of the SQLite file; its directory is created when the store opens. */
  sqlitePath: string;
  /** PostgreSQL store, which wins over SQLite. Holds a password: never log it. */
  databaseUrl: string | null;
  /** PostgreSQL: apply pending migrations at start (`auto`), or only check the schema (`off`). */
  migrate: 'auto' | 'off';
  /**
   * PostgreSQL: how long a replica's lease on its open rows lasts without a heartbeat. Once it
   * has run out, another replica seals them as unknown.
   */
  replicaLeaseSeconds: number;
}

export const auditConfig = registerAs('audit', (): AuditConfig => {
  const env = validateEnv(process.env, AuditEnv);
  return {
    sqlitePath: resolve(env.AUDIT_SQLITE_PATH ?? './data/audit.sqlite'),
    databaseUrl: env.AUDIT_DATABASE_URL ?? null,
    migrate: env.AUDIT_MIGRATE ?? 'auto',
    replicaLeaseSeconds: env.AUDIT_REPLICA_LEASE_SECONDS ?? DEFAULT_REPLICA_LEASE_SECONDS,
  };
});
