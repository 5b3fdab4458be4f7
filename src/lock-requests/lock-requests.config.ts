import { registerAs } from '@nestjs/config';
import { IsOptional, ValidateBy } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';
import { DURATION_RULE, parseDurationSeconds } from '../domain/duration.js';

/** Longer than a month is a request nobody is looking at any more. */
const MAX_DEADLINE_SECONDS = 30 * 86_400;
const DEADLINE_RULE = `${DURATION_RULE}, from 1s to 30d`;

function IsDeadline(): PropertyDecorator {
  return ValidateBy({
    name: 'isDeadline',
    validator: {
      validate: (value: unknown) => {
        const seconds = parseDurationSeconds(value);
        return seconds !== undefined && seconds >= 1 && seconds <= MAX_DEADLINE_SECONDS;
      },
      defaultMessage: () => DEADLINE_RULE,
    },
  });
}

class LockRequestsEnv {
  @IsOptional() @IsDeadline() APPROVAL_TTL?: string;
  @IsOptional() @IsDeadline() EXECUTION_WINDOW?: string;
  @IsOptional() @IsDeadline() LOCK_REQUEST_POLL_INTERVAL?: string;
}

export const DEFAULT_APPROVAL_TTL = '24h';
export const DEFAULT_EXECUTION_WINDOW = '1h';
export const DEFAULT_POLL_INTERVAL = '5s';

export interface LockRequestsConfig {
  /** How long a request waits for its approvals before it expires. */
  approvalTtlSeconds: number;
  /** How long after `notBefore` a request may still be started before it expires. */
  executionWindowSeconds: number;
  /**
   * How often each replica looks for due work (expiries, executions, settlements): how late a
   * request may start after its notBefore.
   */
  pollIntervalSeconds: number;
}

export const lockRequestsConfig = registerAs('lockRequests', (): LockRequestsConfig => {
  // Strings only: implicit conversion must not turn a duration into anything else.
  const env = validateEnv(
    {
      APPROVAL_TTL: process.env.APPROVAL_TTL,
      EXECUTION_WINDOW: process.env.EXECUTION_WINDOW,
      LOCK_REQUEST_POLL_INTERVAL: process.env.LOCK_REQUEST_POLL_INTERVAL,
    },
    LockRequestsEnv,
  );
  return {
    approvalTtlSeconds: secondsOf(env.APPROVAL_TTL ?? DEFAULT_APPROVAL_TTL),
    executionWindowSeconds: secondsOf(env.EXECUTION_WINDOW ?? DEFAULT_EXECUTION_WINDOW),
    pollIntervalSeconds: secondsOf(env.LOCK_REQUEST_POLL_INTERVAL ?? DEFAULT_POLL_INTERVAL),
  };
});

function secondsOf(duration: string): number {
  const seconds = parseDurationSeconds(duration);
  if (seconds === undefined) throw new Error(`not a duration: ${duration}`);
  return seconds;
}
