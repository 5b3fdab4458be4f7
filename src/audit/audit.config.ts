import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { IsNotEmpty, IsOptional, IsString, IsUrl } from 'class-validator';
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
}

export interface AuditConfig {
  /** Absolute path of the SQLite file; its directory is created when the store opens. */
  sqlitePath: string;
  /** PostgreSQL store, which wins over SQLite once it exists. Holds a password: never log it. */
  databaseUrl: string | null;
}

export const auditConfig = registerAs('audit', (): AuditConfig => {
  const env = validateEnv(process.env, AuditEnv);
  return {
    sqlitePath: resolve(env.AUDIT_SQLITE_PATH ?? './data/audit.sqlite'),
    databaseUrl: env.AUDIT_DATABASE_URL ?? null,
  };
});
