import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphqlContext } from '../gateway-request.js';

/**
 * formatError cannot see the request, so errors raised before a resolver ran (parse and
 * validation failures) get their `requestId` here, just before the answer is sent.
 */
export const requestIdPlugin: ApolloServerPlugin<GraphqlContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (response.body.kind !== 'single') return;
        for (const error of response.body.singleResult.errors ?? []) {
          const extensions = error.extensions as Record<string, unknown> | undefined;
          if (extensions && extensions.requestId === undefined) {
            extensions.requestId = contextValue.req.id;
          }
        }
      },
    };
  },
};
