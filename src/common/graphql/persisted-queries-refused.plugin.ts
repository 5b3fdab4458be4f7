import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';

/**
 * Automatic persisted queries are off. Apollo then answers a request that asks for one with 200,
 * as the APQ protocol expects of a server that merely lacks the query; here it is a request the
 * gateway does not take, refused like any other malformed request.
 */
export const persistedQueriesRefusedPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ errors, response }) {
        const refused = errors?.some(
          (e) => e.extensions.code === ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
        );
        if (refused) response.http.status = 400;
      },
    };
  },
};
