import { mkdirSync, rmSync } from 'node:fs';

export default function globalSetup(): void {
  const dir = process.env.VLG_TEST_LOG_DIR;
  if (!dir) throw new Error('VLG_TEST_LOG_DIR is set by jest.config.js');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
