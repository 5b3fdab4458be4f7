import { resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { IsInt, IsNotEmpty, IsOptional, IsString, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';

class CheckpointEnv {
  @IsOptional() @IsInt() @Min(1) @Max(86_400) AUDIT_CHECKPOINT_INTERVAL_SECONDS?: number;
  @IsOptional() @IsString() @IsNotEmpty() AUDIT_SIGNING_KEY_FILE?: string;
  @IsOptional() @IsString() @IsNotEmpty() AUDIT_CHECKPOINT_DIR?: string;
}

export const DEFAULT_CHECKPOINT_INTERVAL_SECONDS = 3600;

/** Where a key is generated outside production when AUDIT_SIGNING_KEY_FILE is not set. */
export const GENERATED_SIGNING_KEY_FILE = './data/audit-signing-key.pem';

export interface CheckpointConfig {
  /** How often a checkpoint is written; verification allows two of these between checkpoints. */
  intervalSeconds: number;
  /** Absolute path of the Ed25519 private key (PEM); null: none given. */
  signingKeyFile: string | null;
  /** Absolute path of the directory that receives one write-once file per checkpoint. */
  directory: string;
}

/**
 * Read by the gateway, which writes checkpoints, and by `npm run audit:verify`, which takes
 * the interval and the directory from here unless its flags say otherwise.
 */
export const checkpointConfig = registerAs('checkpoints', (): CheckpointConfig => {
  const env = validateEnv(process.env, CheckpointEnv);
  return {
    intervalSeconds: env.AUDIT_CHECKPOINT_INTERVAL_SECONDS ?? DEFAULT_CHECKPOINT_INTERVAL_SECONDS,
    signingKeyFile: env.AUDIT_SIGNING_KEY_FILE ? resolve(env.AUDIT_SIGNING_KEY_FILE) : null,
    directory: resolve(env.AUDIT_CHECKPOINT_DIR ?? './data/checkpoints'),
  };
});
