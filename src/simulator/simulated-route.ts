import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallCounter } from './call-counter.js';
import type { FaultInjector } from './fault-injector.js';
import { UNPARSABLE_BODY } from './request-input.js';
import { serviceOf, type RouteName } from './route-names.js';
import { SimulatorError, errorCodeFor } from './simulator-error.js';
import type { TraceContextLog } from './trace-context-log.js';

/** One simulated upstream call: counted, its trace context kept, open to fault injection, then handled. */
export interface SimulatedRoute {
  method: 'GET' | 'POST' | 'PUT';
  paths: readonly string[];
  /** A function when two route names share a URL and the body tells them apart. */
  name: RouteName | ((request: FastifyRequest) => RouteName);
  handle(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export function addSimulatedRoute(
  app: FastifyInstance,
  harness: { calls: CallCounter; faults: FaultInjector; traceContexts: TraceContextLog },
  route: SimulatedRoute,
): void {
  const nameOf = typeof route.name === 'function' ? route.name : () => route.name as RouteName;
  for (const url of route.paths) {
    app.route({
      method: route.method,
      url,
      handler: async (request, reply) => {
        const name = nameOf(request);
        harness.calls.count(name);
        harness.traceContexts.record(name, request.headers.traceparent, request.headers.baggage);
        const fault = await harness.faults.intercept(name, reply);
        if (fault === 'answered') return reply;
        if (request.body === UNPARSABLE_BODY) {
          throw new SimulatorError(
            400,
            errorCodeFor(serviceOf(name), 400),
            'The request body is not valid JSON.',
          );
        }
        const answer = await route.handle(request, reply);
        return fault ? fault(answer) : answer;
      },
    });
  }
}

/** TaurusDB paths are also served under `/{region}`, as a regional endpoint template fills in. */
export const withRegionPrefix = (path: string): string[] => [path, `/:region${path}`];
