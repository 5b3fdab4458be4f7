import { describe, expect, it } from '@jest/globals';
import { runChaos } from './chaos-run.js';

/**
 * `npm test` runs a short version; `npm run test:chaos` runs the same with CHAOS_KILLS (20 by
 * default there). CHAOS_SEED repeats a run. Needs `dist/`, which jest's global setup builds first.
 */
const KILLS = Number(process.env.CHAOS_KILLS ?? 5);
const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 2 ** 31);

describe('crash safety', () => {
  it(
    `loses no audit row over ${KILLS} SIGKILLs of the gateway during a stream of mutations`,
    async () => {
      const report = await runChaos({
        kills: KILLS,
        seed: SEED,
        logDir: process.env.VLG_TEST_LOG_DIR as string,
      });
      process.stdout.write(
        `\nchaos (seed ${report.seed}): ${report.kills} kills, ${report.mutationsSent} mutations sent, ` +
          `${report.succeeded} succeeded, ${report.rows} rows, ${report.closedAtRestart} closed ` +
          `at restart, ${report.rowsLost} rows lost, ${report.durationMs} ms\n`,
      );

      expect(report.succeeded).toBeGreaterThan(0);
      expect(report.rowsLost).toBe(0);
      expect(report.openAfterStart).toBe(0);
      // Each start counts the rows its reconcile closed, and only those.
      expect(report.sealedLateCounted).toBe(report.closedAtRestart);
      expect(report.verify).toEqual({
        exitCode: 0,
        output: `audit chain OK: ${report.rows} rows\n`,
      });
    },
    60_000 + KILLS * 10_000,
  );
});
