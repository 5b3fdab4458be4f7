import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/**
 * Loaded into the benchmarked gateway with `--import` when the bench is asked for CPU profiles
 * (plain JavaScript, so that it needs no build, from the bench's build or from its tests):
 * each SIGUSR2 starts or stops V8's sampling profiler, so that a profile covers one measured
 * run and nothing of start-up or of the other runs. A stopped profile is written to
 * `BENCH_CPU_PROF_DIR` as `<pid>-<n>.cpuprofile`; the bench renames it after its run.
 */
const directory = process.env.BENCH_CPU_PROF_DIR;
if (directory) {
  mkdirSync(directory, { recursive: true });
  const session = new Session();
  session.connect();
  let profiling = false;
  let written = 0;
  let pending = Promise.resolve();
  process.on('SIGUSR2', () => {
    pending = pending.then(async () => {
      if (!profiling) {
        await session.post('Profiler.enable');
        // A sample every 200 µs: fine enough for a hot path of a few milliseconds.
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
        profiling = true;
        return;
      }
      const { profile } = await session.post('Profiler.stop');
      profiling = false;
      written += 1;
      const file = join(directory, `${process.pid}-${written}.cpuprofile`);
      writeFileSync(`${file}.partial`, JSON.stringify(profile));
      // Renamed only once complete, so that the bench never reads half a profile.
      renameSync(`${file}.partial`, file);
    });
  });
}
