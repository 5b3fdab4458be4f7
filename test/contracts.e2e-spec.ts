// Proves: the committed schema.graphql and openapi.json are what the gateway serves; the
// OpenAPI document says which routes need a token exactly as the guard decides it; the error
// body and the audit listing answer exactly the fields their schemas document.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OpenAPIObject, OperationObject, ParameterObject } from '@nestjs/swagger';
import {
  CONTRACT_FILES,
  formatOpenApiContract,
  printGraphqlContract,
} from '../src/bootstrap/contracts.js';
import { GRAPHQL_PATH } from '../src/common/graphql/graphql-options.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { lockBody, lockPath, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

/** Fails with the first line that differs and the one command that brings the file up to date. */
function expectCommitted(file: string, served: string): void {
  const committed = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (committed === served) return;
  const servedLines = served.split('\n');
  const committedLines = committed?.split('\n') ?? [];
  const line = servedLines.findIndex((text, i) => text !== committedLines[i]);
  throw new Error(
    `${file} is not what the gateway serves ` +
      (committed === undefined
        ? '(the file is missing).'
        : `(first difference at line ${line + 1}:\n` +
          `  committed: ${committedLines[line] ?? '<end of file>'}\n` +
          `  served:    ${servedLines[line] ?? '<end of file>'}).`) +
      `\nRun \`npm run contracts\` and commit ${CONTRACT_FILES.graphql} and ${CONTRACT_FILES.openapi}.`,
  );
}

function schemaProperties(document: OpenAPIObject, name: string): string[] {
  const schema = document.components?.schemas?.[name];
  if (!schema || !('properties' in schema)) throw new Error(`no schema ${name}`);
  return Object.keys(schema.properties ?? {}).sort();
}

describe('published contracts', () => {
  let h: Harness;
  let openapiText: string;
  let document: OpenAPIObject;

  beforeAll(async () => {
    h = await startHarness();
    openapiText = await (await fetch(`${h.url}/openapi.json`)).text();
    document = JSON.parse(openapiText) as OpenAPIObject;
  });
  afterAll(() => h.close());

  it('commits the GraphQL schema the gateway serves', () => {
    expectCommitted(CONTRACT_FILES.graphql, printGraphqlContract(h.app));
  });

  it('commits the OpenAPI document the gateway serves at /openapi.json', () => {
    expectCommitted(CONTRACT_FILES.openapi, formatOpenApiContract(openapiText));
  });

  it('documents a token requirement on exactly the routes that refuse a call without one', async () => {
    const { projectId, id: instanceId } = INSTANCES.financeProd;
    const operations = Object.entries(document.paths)
      .filter(([path]) => path !== GRAPHQL_PATH)
      .flatMap(([path, item]) =>
        Object.entries(item as Record<string, OperationObject>).map(
          ([method, operation]) => ({ path, method, operation }) as const,
        ),
      );
    expect(operations.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      'get /health/live',
      'get /health/ready',
      'get /metrics',
      'get /v1/audit-checkpoints',
      'get /v1/audit-checkpoints/public-key',
      'get /v1/audit-events',
      'get /v1/bulk-locks/{id}',
      'get /v1/lock-requests',
      'get /v1/lock-requests/{id}',
      'get /v1/projects/{project_id}/compliance',
      'get /v1/projects/{project_id}/fleet',
      'get /v3/{project_id}/instances/{instance_id}/backups/vault-lock',
      'post /v1/audit-checkpoints',
      'post /v1/bulk-locks',
      'post /v1/lock-requests/{id}/approve',
      'post /v1/lock-requests/{id}/cancel',
      'post /v1/lock-requests/{id}/deny',
      'put /v3/{project_id}/instances/{instance_id}/backups/vault-lock',
    ]);
    for (const { path, method, operation } of operations) {
      const documentedPublic = operation.security?.length === 0;
      const url = path.replace('{project_id}', projectId).replace('{instance_id}', instanceId);
      const answer = await rest(h, method.toUpperCase(), url);
      expect({ route: `${method} ${path}`, unauthenticated: answer.status === 401 }).toEqual({
        route: `${method} ${path}`,
        unauthenticated: !documentedPublic,
      });
      expect(Object.keys(operation.responses)).toContain(documentedPublic ? '200' : '401');
      if (!documentedPublic) {
        expect(Object.keys(answer.body).sort()).toEqual(schemaProperties(document, 'ErrorBody'));
      }
    }
  });

  it('documents every field of an audit row that the audit listing answers with', async () => {
    const token = await h.simulator.mintToken({
      sub: 'contract-reader',
      groups: ['dba', 'auditor'],
    });
    const { projectId, id: instanceId } = INSTANCES.financeProd;
    const put = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}?dry_run=true`, {
      token,
      body: lockBody('enable', 30),
    });
    expect(put.status).toBe(200);
    const listing = await rest<{ events: Record<string, unknown>[] }>(
      h,
      'GET',
      `/v1/audit-events?instance_id=${instanceId}&limit=1`,
      { token },
    );
    expect(listing.status).toBe(200);
    expect(Object.keys(listing.body).sort()).toEqual(
      schemaProperties(document, 'AuditEventsPageDto'),
    );
    expect(Object.keys(listing.body.events[0]).sort()).toEqual(
      schemaProperties(document, 'AuditEventDto'),
    );
  });

  it('states the pattern of every ID parameter', () => {
    const parameters = Object.values(document.paths)
      .flatMap((item) => Object.values(item as Record<string, OperationObject>))
      .flatMap((operation) => (operation.parameters ?? []) as ParameterObject[])
      .filter((parameter) => parameter.name.endsWith('_id'));
    expect(parameters.length).toBeGreaterThanOrEqual(6);
    for (const parameter of parameters) {
      // A repeatable parameter states the pattern of each of its values.
      const schema = parameter.schema as { pattern?: string; items?: { pattern?: string } };
      expect({
        name: parameter.name,
        pattern: (schema.items ?? schema).pattern,
      }).toEqual({ name: parameter.name, pattern: expect.stringMatching(/^\^.+\$$/) });
    }
  });
});
