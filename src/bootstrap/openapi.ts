import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  DocumentBuilder,
  SwaggerModule,
  type OpenAPIObject,
  type ParameterObject,
  type ResponseObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { ANSWER_HEADERS, answerHeaders } from '../common/api-responses.js';
import { DOCUMENT_LIMITS } from '../common/graphql/document-limits.rule.js';
import { GRAPHQL_PATH } from '../common/graphql/graphql-options.js';
import { SANE_REQUEST_ID } from '../common/gateway-request.js';

const DESCRIPTION = [
  'Drop-in for TaurusDB backup vault-lock paths, with internal-token authentication, policy and',
  'a tamper-evident audit trail. Every error is {"error_code","error_msg","request_id"}; the',
  "gateway's own codes start with GW., TaurusDB's 4xx refusals keep their DBS.* code and status.",
  'Any request can also be refused with 408 (request not received within',
  'HTTP_REQUEST_TIMEOUT_MS) or 431 (headers over 16 KB), in the same error shape.',
].join(' ');

const REQUEST_ID_PARAMETER: ParameterObject = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description: 'Kept and echoed if 8-128 characters of [A-Za-z0-9._:-], else replaced',
  schema: { type: 'string', pattern: SANE_REQUEST_ID.source },
};

/** `/openapi.json` for tools and `/docs` for people; both public, like health. */
export function setupOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Vault Lock Gateway')
      .setDescription(DESCRIPTION)
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .addSecurityRequirements('bearer')
      .addGlobalParameters(REQUEST_ID_PARAMETER)
      .build(),
  );
  document.components = { ...document.components, headers: ANSWER_HEADERS };
  describeGraphqlEndpoint(document);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: '',
  });
}

const GRAPHQL_ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['message', 'extensions'],
  properties: {
    message: { type: 'string' },
    path: { type: 'array', items: { type: 'string' } },
    extensions: {
      type: 'object',
      required: ['code', 'errorCode'],
      properties: {
        code: { type: 'string', example: 'BAD_USER_INPUT' },
        errorCode: { type: 'string', example: 'GW.VALIDATION', description: 'The REST error_code' },
        requestId: { type: 'string' },
        auditId: { type: 'string', format: 'uuid' },
        retryAfterSeconds: { type: 'integer' },
      },
    },
  },
};

const graphqlAnswer = (
  description: string,
  properties: Record<string, SchemaObject>,
  headers = answerHeaders(),
): ResponseObject => ({
  description,
  headers,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});

/**
 * Apollo serves `/graphql` outside Nest's controllers, so the explorer cannot see it. Its
 * schema is published as `schema.graphql`; here only the HTTP envelope is described.
 */
function describeGraphqlEndpoint(document: OpenAPIObject): void {
  const errors: SchemaObject = { type: 'array', items: GRAPHQL_ERROR_SCHEMA };
  document.paths[GRAPHQL_PATH] = {
    post: {
      operationId: 'graphql',
      tags: ['graphql'],
      summary: 'GraphQL; the schema is schema.graphql',
      parameters: [REQUEST_ID_PARAMETER],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['query'],
              properties: {
                query: { type: 'string', maxLength: DOCUMENT_LIMITS.maxQueryBytes },
                variables: { type: 'object', additionalProperties: true },
                operationName: { type: 'string' },
              },
            },
          },
        },
      },
      responses: {
        '200': graphqlAnswer(
          'The result; errors raised while resolving come here too, one per failed field. Idempotent-Replayed: true when a setBackupVaultLock in it answered with the stored answer of an earlier request with the same idempotencyKey',
          { data: { type: 'object', nullable: true, additionalProperties: true }, errors },
          answerHeaders({ replayed: true }),
        ),
        '400': graphqlAnswer(
          'Refused before execution: a document that does not parse, fails validation or exceeds the depth, alias, nesting or size limit; a malformed request envelope; a persisted query (not supported); a batch; a request a browser could send cross-site',
          { errors },
        ),
        '401': graphqlAnswer(
          'No valid bearer token: refused before the document is read (UNAUTHENTICATED)',
          { errors },
        ),
        '413': graphqlAnswer('The body is over 16 KB', { errors }),
        '415': graphqlAnswer('The body is not application/json', { errors }),
      },
    },
  };
}
