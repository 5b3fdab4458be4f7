import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

/** From the project's root, where the bench and its tests run. */
const PRELOAD = resolve('bench/cpu-profiler.preload.mjs');
const WRITE_TIMEOUT_MS = 30_000;

/**
 * CPU profiles of the gateway, one per measured run: the flags and variable that load the
 * profiler into the gateway, and the start and stop of a profile around a run.
 */
export class CpuProfiles {
  readonly directory: string;
  private pid = 0;
  private written = 0;

  constructor(directory: string) {
    this.directory = resolve(directory);
    mkdirSync(this.directory, { recursive: true });
  }

  get nodeFlags(): string[] {
    return [`--import=${pathToFileURL(PRELOAD).href}`];
  }

  get env(): Record<string, string> {
    return { BENCH_CPU_PROF_DIR: this.directory };
  }

  attach(pid: number): void {
    this.pid = pid;
  }

  start(): void {
    process.kill(this.pid, 'SIGUSR2');
  }

  /** Stops the profile and names its file after the run; answers the file's path. */
  async stop(name: string): Promise<string> {
    process.kill(this.pid, 'SIGUSR2');
    this.written += 1;
    const written = join(this.directory, `${this.pid}-${this.written}.cpuprofile`);
    const deadline = Date.now() + WRITE_TIMEOUT_MS;
    while (!existsSync(written)) {
      if (Date.now() > deadline) throw new Error(`no CPU profile at ${written}`);
      await sleep(50);
    }
    const named = join(this.directory, `${name.replaceAll(/[^A-Za-z0-9]+/g, '-')}.cpuprofile`);
    renameSync(written, named);
    return named;
  }
}
