import { v7 as uuidv7 } from 'uuid';
import { FLEET_INSTANCES, PROJECTS } from '../../simulator/fixtures.js';
import type { NewBulkLockJob } from '../bulk-job-store.js';

/** Test support for the bulk lock specs. */

/** The clock of the fixtures: every time is an offset from this one. */
export const BULK_FIXTURE_NOW = '2026-11-30T03:00:00.000Z';

export function secondsAfter(seconds: number): string {
  return new Date(Date.parse(BULK_FIXTURE_NOW) + seconds * 1_000).toISOString();
}

/** A job just asked for by alice, with a fresh (newest) UUIDv7 id and no idempotency key. */
export function aBulkJob(overrides: Partial<NewBulkLockJob> = {}): NewBulkLockJob {
  return {
    id: uuidv7(),
    projectId: PROJECTS.cnNorth4Fleet.id,
    action: 'enable',
    retentionDays: 30,
    dryRun: false,
    creatorIss: 'https://idp.example.test',
    creatorSub: 'alice',
    creatorGroups: ['dba'],
    channel: 'graphql',
    callerAddress: '127.0.0.1',
    requestId: uuidv7(),
    idempotencyKey: null,
    fingerprint: 'a'.repeat(64),
    createdAt: BULK_FIXTURE_NOW,
    ...overrides,
  };
}

/** The first `count` instances of the fleet fixture, by id. */
export const fleetIds = (count: number): string[] =>
  FLEET_INSTANCES.slice(0, count).map((instance) => instance.id);
