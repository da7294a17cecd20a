/**
 * test/helpers/receiver.ts against a stand-in process (fixtures/fake-receiver.mjs), so the
 * helper's start, readiness, timeout, stop and crash paths are checked without the real CLI.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { RECEIVER_ENTRY, startReceiver } from '../helpers/receiver.js';

const FAKE = fileURLToPath(new URL('./fixtures/fake-receiver.mjs', import.meta.url));

describe('startReceiver', () => {
  it('waits for /readyz, passes env, and stops with SIGTERM → exit code 0', async () => {
    const r = await startReceiver({ FAKE_MODE: 'ready', FAKE_READY_AFTER_MS: '500', DATABASE_URL: 'postgres://x@127.0.0.1:1/db' }, { entry: FAKE });
    expect(r.url).toBe(`http://127.0.0.1:${r.port}`);
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    const env = (await (await fetch(`${r.url}/env`)).json()) as Record<string, string>;
    expect(env.PORT).toBe(String(r.port));
    expect(env.HOST).toBe('127.0.0.1');
    expect(env.DATABASE_URL).toBe('postgres://x@127.0.0.1:1/db');
    expect(env.DATA_DIR).toBe(r.dataDir);
    expect(existsSync(r.dataDir)).toBe(true);
    expect(r.dataDir.startsWith(inject('testRunDir'))).toBe(true); // swept with the run if it is killed
    expect(await r.stop()).toBe(0);
    expect(await r.stop()).toBe(0); // idempotent
    expect(r.stderrText()).toContain('"msg":"shutting down"');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(r.dataDir)).toBe(false); // its own DATA_DIR is removed after exit
  });

  it('fails with the stderr tail when /readyz never returns 200', async () => {
    const t0 = Date.now();
    const err = await startReceiver({ FAKE_MODE: 'never' }, { entry: FAKE, readyTimeoutMs: 1_500 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toMatch(/did not return 200 within 1500 ms/);
    expect(err?.message).toContain('"msg":"listening"');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('fails at once, with exit code and stderr, when the process exits before it is ready', async () => {
    const err = await startReceiver({ FAKE_MODE: 'exit' }, { entry: FAKE }).then(
      () => null,
      (e: unknown) => e as Error & { exitCode?: number },
    );
    expect(err?.message).toMatch(/exited before it was ready \(code 3/);
    expect(err?.message).toContain('DATABASE_URL');
    expect(err?.exitCode).toBe(3);
  });

  it('SIGKILLs a receiver that ignores SIGTERM past stopTimeoutMs, and says so', async () => {
    const r = await startReceiver({ FAKE_MODE: 'ignore-term', FAKE_READY_AFTER_MS: '0' }, { entry: FAKE, stopTimeoutMs: 500 });
    await expect(r.stop()).rejects.toThrow(/did not exit within 500 ms of SIGTERM/);
    expect((await r.exited).signal).toBe('SIGKILL');
  });

  it('kill9() is a crash: no shutdown handler runs', async () => {
    const r = await startReceiver({ FAKE_MODE: 'ready', FAKE_READY_AFTER_MS: '0' }, { entry: FAKE });
    await r.kill9();
    expect(await r.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(r.stderrText()).not.toContain('shutting down');
  });

  it('points at the built CLI by default', () => {
    expect(RECEIVER_ENTRY).toMatch(/dist\/src\/cli\/main\.js$/);
  });
});
