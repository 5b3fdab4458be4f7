import type { FastifyInstance } from 'fastify';
import type { CallCounter } from './call-counter.js';
import { parseFaultSpec, type FaultInjector } from './fault-injector.js';
import type { IamTokenStore } from './iam.js';
import { pick } from './request-input.js';
import { SimCode, SimulatorError } from './simulator-error.js';
import type { TraceContextLog } from './trace-context-log.js';

const MAX_TOKEN_LIFETIME_SECONDS = 7 * 24 * 60 * 60;

export interface AdminDeps {
  calls: CallCounter;
  traceContexts: TraceContextLog;
  faults: FaultInjector;
  tokens: IamTokenStore;
  reset(): void;
}

/**
 * Development-only controls for tests: faults, call counts, the trace contexts calls carried,
 * reset, token revocation. No auth.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.post('/__admin/faults', async (request, reply) => {
    const fault = parseFaultSpec(request.body);
    deps.faults.add(fault);
    reply.code(201);
    return { fault };
  });

  app.delete('/__admin/faults', async () => {
    deps.faults.clear();
    return { cleared: true };
  });

  app.get('/__admin/calls', async () => deps.calls.snapshot());

  app.get('/__admin/trace-contexts', async () => deps.traceContexts.snapshot());

  app.post('/__admin/reset', async () => {
    deps.reset();
    return { reset: true };
  });

  app.post('/__admin/tokens/revoke', async () => ({ revoked: deps.tokens.revokeAll() }));

  app.post('/__admin/iam/token-lifetime', async (request) => {
    const seconds = pick(request.body, 'seconds');
    if (
      !Number.isInteger(seconds) ||
      (seconds as number) < 0 ||
      (seconds as number) > MAX_TOKEN_LIFETIME_SECONDS
    ) {
      throw new SimulatorError(
        400,
        SimCode.BAD_REQUEST,
        `seconds must be an integer from 0 to ${MAX_TOKEN_LIFETIME_SECONDS}`,
      );
    }
    deps.tokens.setLifetimeSeconds(seconds as number);
    return { seconds };
  });
}
