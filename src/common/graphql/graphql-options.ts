import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '../../config/app.config.js';
import type { GatewayRequest, GraphqlContext } from '../gateway-request.js';
import { DateTimeScalar } from '../date-time.js';
import { documentLimitsRule } from './document-limits.rule.js';
import { formatGraphqlError } from './format-graphql-error.js';
import { requestIdPlugin } from './request-id.plugin.js';

export const GRAPHQL_PATH = '/graphql';

export function graphqlOptions(config: AppConfig): ApolloDriverConfig {
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
    includeStacktraceInErrorResponses: false,
    autoTransformHttpErrors: false,
    validationRules: [documentLimitsRule],
    formatError: formatGraphqlError,
    // Apollo installs its cache-control plugin by default, which runs a hook on every resolved
    // field; nothing here is cacheable, so it would only cost time.
    plugins: [requestIdPlugin, ApolloServerPluginCacheControlDisabled()],
    context: (req: GatewayRequest, reply: FastifyReply): GraphqlContext => ({ req, reply }),
  };
}
