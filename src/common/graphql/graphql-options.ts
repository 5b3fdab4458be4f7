import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { AppConfig } from '../../config/app.config.js';
import { DateTimeScalar } from '../date-time.js';
import { type CallerAuthenticator, graphqlContext } from './graphql-context.js';
import { documentLimitsRule } from './document-limits.rule.js';
import { formatGraphqlError } from './format-graphql-error.js';
import { hideSuggestionsPlugin } from './hide-suggestions.plugin.js';
import { operationOutcomePlugin } from './operation-outcome.plugin.js';
import { persistedQueriesRefusedPlugin } from './persisted-queries-refused.plugin.js';

export const GRAPHQL_PATH = '/graphql';

export function graphqlOptions(
  config: AppConfig,
  verifier: CallerAuthenticator,
): ApolloDriverConfig {
  return {
    path: GRAPHQL_PATH,
    // Nest would otherwise stop Apollo with the modules, before the HTTP server closes, and
    // Apollo's drain then cuts every open connection (REST too) after 10 s, leaving a caller
    // without the answer to a mutation that is still running.
    stopOnApplicationShutdown: true,
    autoSchemaFile: true,
    sortSchema: true,
    buildSchemaOptions: { scalarsMap: [{ type: Date, scalar: DateTimeScalar }] },
    introspection: !config.production,
    graphiql: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Off: the gateway's documents are small and sent rarely, and a cache filled from callers'
    // hashes would be memory anyone with a token could fill.
    persistedQueries: false,
    includeStacktraceInErrorResponses: false,
    autoTransformHttpErrors: false,
    validationRules: [documentLimitsRule],
    formatError: formatGraphqlError,
    // Apollo installs its cache-control plugin by default, which runs a hook on every resolved
    // field; nothing here is cacheable, so it would only cost time.
    plugins: [
      persistedQueriesRefusedPlugin,
      operationOutcomePlugin,
      ApolloServerPluginCacheControlDisabled(),
      ...(config.production ? [hideSuggestionsPlugin] : []),
    ],
    context: graphqlContext(verifier),
  };
}
