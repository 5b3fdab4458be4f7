import 'reflect-metadata';
import { ConfigService } from '@nestjs/config';
import { createGatewayApp } from './bootstrap/create-gateway-app.js';
import {
  developmentBanner,
  startEmbeddedSimulatorIfUnconfigured,
} from './bootstrap/embedded-simulator.js';

async function main(): Promise<void> {
  const simulator = await startEmbeddedSimulatorIfUnconfigured(process.env);
  const app = await createGatewayApp();
  const port = app.get(ConfigService).getOrThrow<number>('app.port');
  await app.listen({ port, host: '0.0.0.0' });
  if (simulator) {
    process.stdout.write(`${await developmentBanner(simulator, port)}\n`);
    app.getHttpServer().once('close', () => void simulator.close());
  }
}

main().catch((error: unknown) => {
  // Configuration and policy errors are written for people: show the message, not a trace.
  console.error(
    `vault-lock-gateway failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
