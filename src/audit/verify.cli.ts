import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { auditConfig } from './audit.config.js';
import { runVerify, type VerifyCommandResult } from './verify-command.js';

// The command prints its own one-line verdict; store errors are part of it, not log lines.
Logger.overrideLogger(false);

async function verifyConfiguredStore(): Promise<VerifyCommandResult> {
  let config;
  try {
    config = auditConfig();
  } catch (configError) {
    // Exit 1 means a broken chain; a wrong setting is "not verified".
    return { exitCode: 2, output: `${(configError as Error).message}\n` };
  }
  return runVerify(config);
}

const { exitCode, output } = await verifyConfiguredStore();
process.stdout.write(output);
process.exitCode = exitCode;
