import 'reflect-metadata';
import { IsInt, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { validateEnv } from '../config/validate-env.js';
import { startSimulator } from './simulator.js';

class SimulatorEnv {
  @IsOptional() @IsInt() @Min(0) @Max(65535) SIMULATOR_PORT?: number;
  @IsOptional() @IsString() SIMULATOR_HOST?: string;
  @IsOptional() @IsUrl({ require_tld: false }) SIMULATOR_PUBLIC_URL?: string;
}

// Its identity provider mints tokens that any gateway trusting its JWKS accepts.
if (process.env.NODE_ENV === 'production') {
  console.error(
    'simulator refused to start: NODE_ENV=production, and its development identity provider mints tokens for anyone who asks',
  );
  process.exit(1);
}

const env = validateEnv(process.env, SimulatorEnv);
const simulator = await startSimulator({
  port: env.SIMULATOR_PORT ?? 4010,
  host: env.SIMULATOR_HOST ?? '127.0.0.1',
  publicUrl: env.SIMULATOR_PUBLIC_URL,
});

process.stdout.write(
  [
    `Huawei Cloud simulator listening on ${simulator.url}`,
    `  IAM endpoint       ${simulator.url}`,
    `  TaurusDB endpoint  ${simulator.url} (or ${simulator.url}/{region})`,
    `  IdP issuer         ${simulator.idpIssuer}`,
    `  JWKS               ${simulator.jwksUrl}`,
    `  Mint a token       POST ${simulator.url}/idp/dev/tokens`,
    `  Admin              ${simulator.url}/__admin`,
    '',
  ].join('\n'),
);

const stop = (): void => {
  simulator.close().catch((error: unknown) => {
    console.error('Simulator did not close cleanly', error);
    process.exitCode = 1;
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
