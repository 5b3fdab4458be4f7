import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { CommonModule } from '../../common/common.module.js';
import { PROJECTS } from '../../simulator/fixtures.js';
import { startSimulator } from '../../simulator/simulator.js';
import { Principal } from '../../domain/principal.js';
import { IamModule } from './iam.module.js';
import { IamTokenExchange } from './iam-token-exchange.js';
import { IamTokenProvider } from './iam-token-provider.js';

describe('IamModule', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let module: TestingModule;
  const saved = { IAM_ENDPOINT: process.env.IAM_ENDPOINT, IAM_IDP_ID: process.env.IAM_IDP_ID };

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    Object.assign(process.env, { IAM_ENDPOINT: sim.url, IAM_IDP_ID: 'sim-idp' });
    module = await Test.createTestingModule({ imports: [CommonModule, IamModule] }).compile();
  });

  afterAll(async () => {
    await module.close();
    await sim.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('wires the provider to IAM from the environment', async () => {
    const alice = new Principal(sim.idpIssuer, 'alice', [], await sim.mintToken({ sub: 'alice' }));

    const token = await module.get(IamTokenProvider).tokenFor(alice, PROJECTS.cnNorth4.id);
    await module.get(IamTokenExchange).ping();

    expect(token.region).toBe('cn-north-4');
    expect(sim.calls()['iam.oidc']).toBe(1);
  });
});
