import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { auditConfig } from './audit.config.js';
import { checkpointConfig } from './checkpoint.config.js';
import { runVerify, type CheckpointCheck, type VerifyCommandResult } from './verify-command.js';

// The command prints its own verdict; store errors are part of it, not log lines.
Logger.overrideLogger(false);

const USAGE = 'usage: audit:verify [--checkpoints DIR --public-key FILE [--interval-seconds N]]\n';

/**
 * `--checkpoints` and `--public-key` go together; the interval is the flag's, else
 * AUDIT_CHECKPOINT_INTERVAL_SECONDS's, the one the gateway writes checkpoints with.
 */
function checkpointCheck(args: string[]): CheckpointCheck | undefined {
  const { values } = parseArgs({
    args,
    options: {
      checkpoints: { type: 'string' },
      'public-key': { type: 'string' },
      'interval-seconds': { type: 'string' },
    },
  });
  if (values.checkpoints === undefined && values['public-key'] === undefined) return undefined;
  if (values.checkpoints === undefined || values['public-key'] === undefined) {
    throw new Error('--checkpoints and --public-key are given together');
  }
  const flag = values['interval-seconds'];
  const intervalSeconds = flag === undefined ? checkpointConfig().intervalSeconds : Number(flag);
  if (!Number.isSafeInteger(intervalSeconds) || intervalSeconds < 1) {
    throw new Error('--interval-seconds must be a whole number of seconds, at least 1');
  }
  return {
    directory: resolve(values.checkpoints),
    publicKeyFile: resolve(values['public-key']),
    intervalSeconds,
    now: new Date(),
  };
}

async function verifyConfiguredStore(): Promise<VerifyCommandResult> {
  let config;
  let checkpoints;
  try {
    config = auditConfig();
    checkpoints = checkpointCheck(process.argv.slice(2));
  } catch (configError) {
    // Exit 1 means a tampered trail; a wrong setting is "not verified".
    return { exitCode: 2, output: `${(configError as Error).message}\n${USAGE}` };
  }
  return runVerify(config, checkpoints);
}

const { exitCode, output } = await verifyConfiguredStore();
process.stdout.write(output);
process.exitCode = exitCode;
