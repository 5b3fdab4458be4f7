import { defineConfig } from '@graphql-hive/gateway';

/**
 * Hive Gateway as `npm run bench:peers` runs it (the supergraph comes on its command line): the
 * caller's IAM token passed on to TaurusDB unchanged. Nothing else is added: no token exchange,
 * no policy, no audit.
 */
export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({
      'x-auth-token': request.headers.get('x-auth-token') ?? undefined,
    }),
  },
});
