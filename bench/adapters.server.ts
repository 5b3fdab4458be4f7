/**
 * One server of the adapter comparison, chosen by BENCH_SERVER, in its own process so that it
 * never shares a core with the load. It tells the parent its address over IPC.
 */
import 'reflect-metadata';
import {
  Body,
  type CanActivate,
  Controller,
  type ExecutionContext,
  HttpCode,
  Injectable,
  Module,
  Param,
  Put,
  Query,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_GUARD, APP_PIPE, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayValidationPipe } from '../src/common/validation.js';
import {
  SetVaultLockBodyDto,
  SetVaultLockQueryDto,
} from '../src/vault-lock/dto/set-vault-lock.dto.js';
import { VaultLockPathDto } from '../src/vault-lock/dto/vault-lock-path.dto.js';

const ANSWER = { result: 'success' };

/** Reads a header only: the guard machinery is measured, JWT verification is not. */
const hasBearer = (headers: IncomingHttpHeaders) =>
  headers.authorization?.startsWith('Bearer ') === true;

@Injectable()
class BearerHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>();
    if (!hasBearer(request.headers)) throw new UnauthorizedException();
    return true;
  }
}

/** The gateway's PUT with its own DTOs, answering at once: no upstream call, no audit. */
@Controller()
class VaultLockBenchController {
  @Put('v3/:project_id/instances/:instance_id/backups/vault-lock')
  @HttpCode(200)
  setVaultLock(
    @Param() _path: VaultLockPathDto,
    @Query() _query: SetVaultLockQueryDto,
    @Body() _body: SetVaultLockBodyDto,
  ): typeof ANSWER {
    return ANSWER;
  }
}

// Registered as the gateway registers its own guard and pipe (src/app.module.ts).
@Module({
  controllers: [VaultLockBenchController],
  providers: [
    { provide: APP_GUARD, useClass: BearerHeaderGuard },
    { provide: APP_PIPE, useClass: GatewayValidationPipe },
  ],
})
class AdapterBenchModule {}

async function startNest(adapter: FastifyAdapter | ExpressAdapter): Promise<Server> {
  const app = await NestFactory.create(AdapterBenchModule, adapter, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer() as Server;
}

/** The floor: what any server on node:http does for this call, reading the body as JSON. */
async function startBareHttp(): Promise<Server> {
  const answer = JSON.stringify(ANSWER);
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (!hasBearer(request.headers)) {
        response.writeHead(401).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const starters: Record<string, () => Promise<Server>> = {
  fastify: () => startNest(new FastifyAdapter()),
  express: () => startNest(new ExpressAdapter()),
  'node:http': startBareHttp,
};

const kind = process.env.BENCH_SERVER ?? '';
const start = starters[kind];
if (start === undefined) throw new Error(`BENCH_SERVER must be one of ${Object.keys(starters)}`);
const { port } = (await start()).address() as AddressInfo;
process.send?.({ url: `http://127.0.0.1:${port}` });
