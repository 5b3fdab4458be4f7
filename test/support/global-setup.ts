import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';

/**
 * Builds `dist/` first: the audit writer thread and every gateway a suite spawns run the built
 * JavaScript, so a single suite run with `npx jest <path>` must not test yesterday's build.
 */
function build(): void {
  // The build script, not tsc alone: it also copies the SQL migrations beside the compiled code.
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}

export default function globalSetup(): void {
  build();
  const dir = process.env.VLG_TEST_LOG_DIR;
  if (!dir) throw new Error('VLG_TEST_LOG_DIR is set by jest.config.js');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
