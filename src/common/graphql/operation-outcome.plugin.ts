import type { ApolloServerPlugin } from '@apollo/server';
import { Kind } from 'graphql';
import type { GraphqlContext } from '../gateway-request.js';

/**
 * Names, on the request, the operation a GraphQL request ran (its type and root fields) and the
 * error code of its first error, or `ok`: one route serves every operation, so the request
 * metrics take both from here rather than from the route and the HTTP status.
 */
export const operationOutcomePlugin: ApolloServerPlugin<GraphqlContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, operation, response }) {
        const { req } = contextValue;
        if (operation) {
          const fields = operation.selectionSet.selections
            .map((selection) => (selection.kind === Kind.FIELD ? selection.name.value : '…'))
            .join(',');
          req.graphqlOperation = `${operation.operation} ${fields}`;
        }
        const errors = response.body.kind === 'single' ? response.body.singleResult.errors : [];
        const errorCode = errors?.[0]?.extensions?.errorCode;
        req.outcome = typeof errorCode === 'string' ? errorCode : 'ok';
      },
    };
  },
};
