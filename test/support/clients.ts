import type { Harness } from './gateway-harness.js';

export interface HttpAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function rest<T = Record<string, unknown>>(
  harness: Pick<Harness, 'url'>,
  method: string,
  path: string,
  options: {
    token?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${harness.url}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parse(text) as T };
}

export interface GraphqlAnswer {
  status: number;
  headers: Headers;
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export async function graphql(
  harness: Harness,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphqlAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${harness.url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = parse(await response.text()) as Omit<GraphqlAnswer, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

export const SET_LOCK_MUTATION = `
  mutation Set($input: SetBackupVaultLockInput!) {
    setBackupVaultLock(input: $input) {
      result requestId auditId
      decision { allowed ruleId reasons policyVersion }
    }
  }`;

export const SHOW_LOCK_QUERY = `
  query Show($projectId: ID!, $instanceId: ID!) {
    backupVaultLock(projectId: $projectId, instanceId: $instanceId) {
      projectId instanceId enabled retentionDays startsAt endsAt
    }
  }`;

export function lockPath(projectId: string, instanceId: string): string {
  return `/v3/${projectId}/instances/${instanceId}/backups/vault-lock`;
}

export function lockBody(action: string, days: number, policy: unknown = true) {
  return { backup_vaultlock_info: { lock_retention_days: days, lock_policy: policy }, action };
}

/** Fault injection at the simulator's admin endpoint (DESIGN §3). */
export async function injectFault(
  harness: { simulator: { url: string } },
  fault: Record<string, unknown>,
): Promise<void> {
  const response = await fetch(`${harness.simulator.url}/__admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (response.status !== 201) throw new Error(`fault not accepted: ${response.status}`);
}

export async function clearFaults(harness: Harness): Promise<void> {
  await fetch(`${harness.simulator.url}/__admin/faults`, { method: 'DELETE' });
}

export async function simulatorAdmin(
  harness: Harness,
  path: string,
  body?: unknown,
): Promise<void> {
  const response = await fetch(`${harness.simulator.url}/__admin/${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`simulator admin ${path}: ${response.status}`);
}

/** Calls the simulator saw from the gateway to IAM and TaurusDB; the IdP's JWKS does not count. */
export function upstreamCalls(harness: Harness): number {
  return Object.entries(harness.simulator.calls())
    .filter(([route]) => !route.startsWith('idp.'))
    .reduce((sum, [, count]) => sum + count, 0);
}
