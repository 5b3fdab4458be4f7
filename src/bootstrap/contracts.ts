import { GraphQLSchemaHost } from '@nestjs/graphql';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { printSchema } from 'graphql';

/** The published contracts, at the top of the repository; `npm run contracts` writes both. */
export const CONTRACT_FILES = { graphql: 'schema.graphql', openapi: 'openapi.json' } as const;

/** The schema Apollo serves, as SDL (sorted: the GraphQL module sorts it). */
export function printGraphqlContract(app: NestFastifyApplication): string {
  return `${printSchema(app.get(GraphQLSchemaHost).schema)}\n`;
}

/** The document `GET /openapi.json` serves, indented so that a change reads as a small diff. */
export function formatOpenApiContract(served: string): string {
  return `${JSON.stringify(JSON.parse(served), null, 2)}\n`;
}
