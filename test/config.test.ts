import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { configMarkdown, loadConfig } from '../src/config.js';
import { streamSecret } from '../src/stream-secret.js';

/** The typed configuration of the read side: defaults, parsing, cross-key checks, and the stream secret. */

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function refused(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('read-side configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      alertLowBalanceThresholdAtomic: '5000000',
      alertRunwayHours: 24,
      alertDailySpendLimitAtomic: '100000000',
      alertErrorRateThreshold: 0.2,
      alertErrorRateMinRequests: 20,
      alertsEnabledDefault: true,
      webhookAllowPrivateUrls: false,
      webhookTimeoutMs: 15_000,
      webhookRetryWindowMs: 86_400_000,
      streamResumeWindowMs: 300_000,
      streamTokenSecret: null,
      rollupFoldIntervalMs: 1_000,
    });
    for (const env of ['ALERT_LOW_BALANCE_THRESHOLD_ATOMIC', 'WEBHOOK_CLAIM_LEASE_MS', 'STREAM_TOKEN_SECRET', 'READ_POOL_SIZE', 'ROLLUP_FOLD_INTERVAL_MS']) {
      expect(configMarkdown()).toContain(`\`${env}\``);
    }
  });

  it('keeps atomic amounts past 2^53 exact, as decimal strings, and takes ratios from 0 to 1', () => {
    const c = loadConfig({ ALERT_DAILY_SPEND_LIMIT_ATOMIC: '18446744073709551615', ALERT_ERROR_RATE_THRESHOLD: '0.05' });
    expect(c.alertDailySpendLimitAtomic).toBe('18446744073709551615');
    expect(c.alertErrorRateThreshold).toBe(0.05);
    expect(refused({ ALERT_LOW_BALANCE_THRESHOLD_ATOMIC: '-1' })).toContain('ALERT_LOW_BALANCE_THRESHOLD_ATOMIC');
    expect(refused({ ALERT_LOW_BALANCE_THRESHOLD_ATOMIC: '1.5' })).toContain('ALERT_LOW_BALANCE_THRESHOLD_ATOMIC');
    expect(refused({ ALERT_ERROR_RATE_THRESHOLD: '1.2' })).toContain('ALERT_ERROR_RATE_THRESHOLD');
    expect(refused({ ALERT_ERROR_RATE_THRESHOLD: 'x' })).toContain('ALERT_ERROR_RATE_THRESHOLD');
  });

  it('refuses a webhook claim lease that does not outlast an attempt, naming the key', () => {
    expect(refused({ WEBHOOK_TIMEOUT_MS: '20000', WEBHOOK_CLAIM_LEASE_MS: '20000' })).toContain('WEBHOOK_CLAIM_LEASE_MS');
    expect(refused({ WEBHOOK_TIMEOUT_MS: '50000' })).toContain('WEBHOOK_CLAIM_LEASE_MS');
    expect(refused({ WEBHOOK_RETRY_BASE_MS: '7200000' })).toContain('WEBHOOK_RETRY_CAP_MS');
    expect(loadConfig({ WEBHOOK_TIMEOUT_MS: '50000', WEBHOOK_CLAIM_LEASE_MS: '60000' }).webhookClaimLeaseMs).toBe(60_000);
  });

  it('refuses a stream secret shorter than 32 bytes', () => {
    expect(refused({ STREAM_TOKEN_SECRET: 'short' })).toContain('STREAM_TOKEN_SECRET');
  });

  it('keeps resolved alerts RETENTION_RESOLVED_ALERTS_DAYS days, whole days from 1 to 36500', () => {
    expect(loadConfig({}).retentionResolvedAlertsDays).toBe(90);
    expect(loadConfig({ RETENTION_RESOLVED_ALERTS_DAYS: '7' }).retentionResolvedAlertsDays).toBe(7);
    expect(configMarkdown()).toContain('`RETENTION_RESOLVED_ALERTS_DAYS`');
    for (const bad of ['0', '-1', '1.5', 'ninety', '36501']) {
      expect(refused({ RETENTION_RESOLVED_ALERTS_DAYS: bad }), bad).toMatch(/^RETENTION_RESOLVED_ALERTS_DAYS: /);
    }
  });
});

describe('stream secret', () => {
  const log = pino({ level: 'silent' });

  it('uses STREAM_TOKEN_SECRET when set', async () => {
    const secret = 's'.repeat(40);
    const config = loadConfig({ STREAM_TOKEN_SECRET: secret, DATA_DIR: '/nonexistent-never-written' });
    expect((await streamSecret(config, log)).toString('utf8')).toBe(secret);
  });

  it('otherwise makes one once, keeps it in DATA_DIR (owner-only), and returns the same after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'machpay-secret-'));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: join(dir, 'data') });
    const first = await streamSecret(config, log);
    expect(first.length).toBeGreaterThanOrEqual(32);
    const path = join(dir, 'data', 'stream-secret');
    expect((await stat(path)).mode & 0o077).toBe(0);
    expect(Buffer.from((await readFile(path, 'utf8')).trim(), 'hex').equals(first)).toBe(true);
    expect((await streamSecret(config, log)).equals(first)).toBe(true);
  });
});
