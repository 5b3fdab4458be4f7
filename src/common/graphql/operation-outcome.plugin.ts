import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import type { GraphqlContext } from '../gateway-request.js';

/**
 * The operation's type and its one root field (`mutation setBackupVaultLock`), or `several` for
 * a document that asks for more than one (or for fragments at its root). Apollo has validated
 * the document, so a field is one the schema defines: the values are few whatever callers send,
 * as a metric label's must be.
 */
function operationName(operation: OperationDefinitionNode): string {
  const fields = new Set(
    operation.selectionSet.selections.map((selection) =>
      selection.kind === Kind.FIELD ? selection.name.value : null,
    ),
  );
  const [only] = fields;
  return `${operation.operation} ${fields.size === 1 && only !== null ? only : 'several'}`;
}

/**
 * Names, on the request, the operation a GraphQL request ran (its type and root field) and the
 * error code of its first error, or `ok`: one route serves every operation, so the request
 * metrics take both from here rather than from the route and the HTTP status.
 */
export const operationOutcomePlugin: ApolloServerPlugin<GraphqlContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, operation, response }) {
        const { req } = contextValue;
        if (operation) req.graphqlOperation = operationName(operation);
        const errors = response.body.kind === 'single' ? response.body.singleResult.errors : [];
        const errorCode = errors?.[0]?.extensions?.errorCode;
        req.outcome = typeof errorCode === 'string' ? errorCode : 'ok';
      },
    };
  },
};
