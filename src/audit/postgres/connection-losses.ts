import type pg from 'pg';

/**
 * Reports lost connections of `pool` through `report`, wherever they are lost. An idle client's
 * loss is the pool's 'error'; a checked-out client's loss between the queries of a transaction
 * is the client's own, and a client 'error' with no listener would end the process. The query
 * that next uses the client fails, and the caller answers that as the store failing.
 */
export function reportConnectionLosses(pool: pg.Pool, report: (error: Error) => void): void {
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
}
