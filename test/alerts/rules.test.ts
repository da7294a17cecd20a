/**
 * docs/read-api.md §5: each alert type fires and resolves exactly at its thresholds, on a
 * clock the test moves, from rows written where ingest writes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvaluator } from '../../src/alerts/index.js';
import { TallyFolder } from '../../src/rollups/tally-folder.js';
import { alertsOf, evaluatorOn, silentLog, interactions, linkedAgent, openAlertDatabase, snapshot, states, TestClock, type AlertDatabase } from './support.js';

let adb: AlertDatabase;
const clock = new TestClock(0);
let ev: AlertEvaluator;

beforeAll(async () => {
  adb = await openAlertDatabase('alerts_rules');
  ev = evaluatorOn(adb.pool, clock);
});
afterAll(async () => {
  await ev.stop();
  await adb.close();
});

/** What ingest's commit hook does, then the round it triggers. */
async function committed(agentId: string): Promise<void> {
  ev.touch(agentId);
  await ev.flush();
}

const USDC = 1_000_000n;

describe('low_balance', () => {
  it('fires below the threshold (not at it) and resolves with a snapshot at or above it', async () => {
    clock.set('2026-12-07T12:30:00Z');
    const a = await linkedAgent(adb.pool, 'tenant-lb');
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:50Z', 5n * USDC);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual([]);

    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:55Z', 5n * USDC - 1n);
    await committed(a.agentId);
    await committed(a.agentId);
    const [fired] = await alertsOf(adb.pool, a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:firing']);
    expect(fired).toMatchObject({ severity: 'warning', tenant_id: 'tenant-lb' });
    expect(fired?.data).toEqual({ usdc_balance_atomic: '4999999', low_balance_threshold_atomic: '5000000', snapshot_at: '2026-12-07T12:29:55.000Z' });
    expect(fired?.message).toContain('4.999999 USDC');
    expect(fired?.fired_at.toISOString()).toBe('2026-12-07T12:30:00.000Z');

    clock.advance(10_000);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:30:05Z', 5n * USDC);
    await committed(a.agentId);
    const [resolved] = await alertsOf(adb.pool, a.agentId);
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.resolved_at?.toISOString()).toBe('2026-12-07T12:30:10.000Z');
    expect(resolved?.data.resolution).toEqual({ reason: 'recovered', usdc_balance_atomic: '5000000', low_balance_threshold_atomic: '5000000', snapshot_at: '2026-12-07T12:30:05.000Z' });
  });

  it('a later low snapshot opens a new alert after one resolved', async () => {
    clock.set('2026-12-07T12:30:00Z');
    const a = await linkedAgent(adb.pool, 'tenant-lb');
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:00Z', 1n);
    await committed(a.agentId);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:10Z', 9n * USDC);
    await committed(a.agentId);
    clock.advance(1000);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:20Z', 0n);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:resolved', 'low_balance:firing']);
  });
});

describe('runway', () => {
  // At 12:30 the burn window is 2026-12-06T12:00 → now, 24.5 h: 24.5 USDC spent is 1 USDC per hour.
  it('fires when runway_hours (§3) is under runway_alert_hours and resolves at or above it', async () => {
    clock.set('2026-12-07T12:30:00Z');
    const a = await linkedAgent(adb.pool, 'tenant-rw');
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-07T12:10:00Z', success: true, amountAtomic: 24_500_000n }]);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:00Z', 10n * USDC);
    await committed(a.agentId);
    const [fired] = await alertsOf(adb.pool, a.agentId);
    expect(fired).toMatchObject({ type: 'runway', state: 'firing', severity: 'warning' });
    expect(fired?.data).toEqual({ runway_hours: 10, runway_alert_hours: 24, usdc_balance_atomic: '10000000', burn_rate_atomic_per_hour: '1000000' });

    // 23.99 h; the §3 figure has two decimals, so 23.999 h would already show (and count) as 24.
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:30Z', 24n * USDC - 10_000n);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['runway:firing']);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:40Z', 24n * USDC);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['runway:resolved']);
  });

  it('resolves with time alone when the spend leaves the burn window (the sweep)', async () => {
    clock.set('2026-12-07T12:30:00Z');
    const a = await linkedAgent(adb.pool, 'tenant-rw');
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-06T12:10:00Z', success: true, amountAtomic: 24_500_000n }]);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:00Z', 10n * USDC);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['runway:firing']);
    clock.set('2026-12-07T12:59:59Z');
    await ev.sweepNow();
    expect(await states(adb.pool, a.agentId, 'runway')).toEqual(['runway:firing']);
    // 13:00: the window starts at 2026-12-06T13:00 and the spend is out of it; nothing spent is an endless runway.
    clock.set('2026-12-07T13:00:05Z');
    await ev.sweepNow();
    const resolved = (await alertsOf(adb.pool, a.agentId)).find((x) => x.type === 'runway');
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.data.resolution).toMatchObject({ reason: 'recovered', runway_hours: null, burn_rate_atomic_per_hour: '0' });
  });

  it('without a known balance decides nothing', async () => {
    clock.set('2026-12-07T12:30:00Z');
    const a = await linkedAgent(adb.pool, 'tenant-rw');
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-07T12:10:00Z', success: true, amountAtomic: 50_000_000n }]);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:29:00Z', null);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual([]);
  });
});

describe('spend_limit', () => {
  it('fires when spend since 00:00 UTC reaches the limit and resolves when the UTC day ends', async () => {
    clock.set('2026-12-07T23:59:30Z');
    const a = await linkedAgent(adb.pool, 'tenant-sl');
    // Yesterday's spend does not count toward today.
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-06T23:00:00Z', success: true, amountAtomic: 500_000_000n }]);
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-07T00:00:00Z', success: true, amountAtomic: 99_999_999n }]);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual([]);

    await interactions(adb.pool, a.agentId, [{ at: '2026-12-07T23:59:20Z', success: true, amountAtomic: 1n }]);
    await committed(a.agentId);
    const [fired] = await alertsOf(adb.pool, a.agentId);
    expect(fired).toMatchObject({ type: 'spend_limit', state: 'firing', severity: 'critical' });
    expect(fired?.data).toEqual({ spend_atomic: '100000000', daily_spend_limit_atomic: '100000000', day: '2026-12-07' });

    clock.set('2026-12-07T23:59:59.999Z');
    await ev.sweepNow();
    expect(await states(adb.pool, a.agentId)).toEqual(['spend_limit:firing']);
    clock.set('2026-12-08T00:00:05Z');
    await ev.sweepNow();
    const [resolved] = await alertsOf(adb.pool, a.agentId);
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.data.resolution).toEqual({ reason: 'day_ended', day: '2026-12-07' });
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['spend_limit:resolved']);

    // The new day is judged on its own spend.
    await interactions(adb.pool, a.agentId, [{ at: '2026-12-08T00:00:01Z', success: true, amountAtomic: 100_000_001n }]);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual(['spend_limit:resolved', 'spend_limit:firing']);
  });
});

describe('high_error_rate', () => {
  const fails = (n: number, at: string) => Array.from({ length: n }, () => ({ at, success: false }));
  const oks = (n: number, at: string) => Array.from({ length: n }, () => ({ at, success: true }));

  it('needs error_rate_min_requests, fires at the threshold, and resolves after 5 minutes below', async () => {
    clock.set('2026-12-07T12:30:30Z');
    const a = await linkedAgent(adb.pool, 'tenant-er');
    await interactions(adb.pool, a.agentId, [...oks(15, '2026-12-07T12:29:10Z'), ...fails(4, '2026-12-07T12:29:10Z')]);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual([]);

    await interactions(adb.pool, a.agentId, oks(1, '2026-12-07T12:30:10Z'));
    await committed(a.agentId);
    const [fired] = await alertsOf(adb.pool, a.agentId);
    expect(fired).toMatchObject({ type: 'high_error_rate', state: 'firing', severity: 'critical' });
    expect(fired?.data).toMatchObject({ requests: 20, failed_requests: 4, error_rate: 0.2, error_rate_threshold: 0.2, error_rate_min_requests: 20, window_minutes: 5 });

    // 4 of 21: below from now on (12:30:30).
    await interactions(adb.pool, a.agentId, oks(1, '2026-12-07T12:30:20Z'));
    await committed(a.agentId);
    clock.set('2026-12-07T12:35:29Z');
    await ev.sweepNow();
    expect(await states(adb.pool, a.agentId)).toEqual(['high_error_rate:firing']);
    clock.set('2026-12-07T12:35:30Z');
    await ev.sweepNow();
    const [resolved] = await alertsOf(adb.pool, a.agentId);
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.data.resolution).toMatchObject({ reason: 'recovered', below_since: '2026-12-07T12:30:30.000Z' });
  });

  it('a failure burst within the 5 minutes starts the count again', async () => {
    clock.set('2026-12-07T14:00:10Z');
    const a = await linkedAgent(adb.pool, 'tenant-er');
    await interactions(adb.pool, a.agentId, fails(20, '2026-12-07T14:00:00Z'));
    await committed(a.agentId);
    await interactions(adb.pool, a.agentId, oks(200, '2026-12-07T14:00:05Z'));
    await committed(a.agentId); // below since 14:00:10
    clock.set('2026-12-07T14:03:00Z');
    await interactions(adb.pool, a.agentId, fails(100, '2026-12-07T14:02:59Z'));
    await committed(a.agentId); // holds again: 120 of 320
    clock.set('2026-12-07T14:03:30Z');
    await interactions(adb.pool, a.agentId, oks(1000, '2026-12-07T14:03:20Z'));
    await committed(a.agentId); // below since 14:03:30
    clock.set('2026-12-07T14:06:00Z');
    await ev.sweepNow();
    expect(await states(adb.pool, a.agentId)).toEqual(['high_error_rate:firing']);
    clock.set('2026-12-07T14:08:30Z');
    await ev.sweepNow();
    expect(await states(adb.pool, a.agentId)).toEqual(['high_error_rate:resolved']);
  });

  it('fires with time alone when successes leave the window (the sweep)', async () => {
    clock.set('2026-12-07T16:29:30Z');
    const a = await linkedAgent(adb.pool, 'tenant-er');
    // 16:25–16:29: 20 failures of 101 requests, just under 0.2.
    await interactions(adb.pool, a.agentId, [...oks(81, '2026-12-07T16:25:00Z'), ...fails(20, '2026-12-07T16:29:00Z')]);
    await committed(a.agentId);
    expect(await states(adb.pool, a.agentId)).toEqual([]);
    clock.set('2026-12-07T16:30:05Z');
    await ev.sweepNow();
    const [fired] = await alertsOf(adb.pool, a.agentId);
    expect(fired?.data).toMatchObject({ requests: 20, failed_requests: 20, error_rate: 1 });
  });
});

describe('stale_telemetry', () => {
  it('fires after 3 × period_seconds, at least 5 minutes, and resolves when a snapshot arrives', async () => {
    clock.set('2026-12-07T18:00:00Z');
    const short = await linkedAgent(adb.pool, 'tenant-st');
    const long = await linkedAgent(adb.pool, 'tenant-st');
    const none = await linkedAgent(adb.pool, 'tenant-st');
    await snapshot(adb.pool, short.agentId, '2026-12-07T18:00:00Z', 100n * USDC, 60);
    await snapshot(adb.pool, long.agentId, '2026-12-07T18:00:00Z', 100n * USDC, 600);
    await snapshot(adb.pool, none.agentId, '2026-12-07T18:00:00Z', 100n * USDC, null);

    clock.set('2026-12-07T18:04:59.999Z');
    await ev.sweepNow();
    for (const a of [short, long, none]) expect(await states(adb.pool, a.agentId)).toEqual([]);
    clock.set('2026-12-07T18:05:00Z');
    await ev.sweepNow();
    expect(await states(adb.pool, short.agentId)).toEqual(['stale_telemetry:firing']);
    expect(await states(adb.pool, none.agentId)).toEqual(['stale_telemetry:firing']);
    expect(await states(adb.pool, long.agentId)).toEqual([]);
    const [fired] = await alertsOf(adb.pool, short.agentId);
    expect(fired?.severity).toBe('warning');
    expect(fired?.data).toEqual({ last_snapshot_at: '2026-12-07T18:00:00.000Z', period_seconds: 60, stale_after_seconds: 300 });

    clock.set('2026-12-07T18:29:59Z');
    await ev.sweepNow();
    expect(await states(adb.pool, long.agentId)).toEqual([]);
    clock.set('2026-12-07T18:30:00Z');
    await ev.sweepNow();
    expect(await states(adb.pool, long.agentId)).toEqual(['stale_telemetry:firing']);

    // A snapshot arrives (even one that is itself late): resolved at its commit.
    await snapshot(adb.pool, short.agentId, '2026-12-07T18:29:00Z', 100n * USDC, 60);
    await committed(short.agentId);
    const [resolved] = await alertsOf(adb.pool, short.agentId);
    expect(resolved?.state).toBe('resolved');
    expect(resolved?.data.resolution).toEqual({ reason: 'recovered', snapshot_at: '2026-12-07T18:29:00.000Z' });
  });

  it('raises nothing for an agent whose last snapshot is over 24 h old, and keeps an open alert past 24 h', async () => {
    clock.set('2026-12-07T20:00:00Z');
    const gone = await linkedAgent(adb.pool, 'tenant-st');
    await snapshot(adb.pool, gone.agentId, '2026-12-06T19:59:59Z', 100n * USDC, 60);
    await ev.sweepNow();
    expect(await states(adb.pool, gone.agentId)).toEqual([]);

    const silent = await linkedAgent(adb.pool, 'tenant-st');
    await snapshot(adb.pool, silent.agentId, '2026-12-07T19:50:00Z', 100n * USDC, 60);
    await ev.sweepNow();
    expect(await states(adb.pool, silent.agentId)).toEqual(['stale_telemetry:firing']);
    clock.set('2026-12-09T00:00:00Z');
    await ev.sweepNow();
    expect(await states(adb.pool, silent.agentId)).toEqual(['stale_telemetry:firing']);
  });
});

describe('folded rollups', () => {
  it('count as the pending tallies did: the rules read minute and hour rows after the folder moved them', async () => {
    clock.set('2026-12-07T21:30:30Z');
    const a = await linkedAgent(adb.pool, 'tenant-fold');
    await interactions(adb.pool, a.agentId, [
      ...Array.from({ length: 20 }, () => ({ at: '2026-12-07T21:29:00Z', success: false, amountAtomic: 5_000_000n })),
      ...Array.from({ length: 20 }, () => ({ at: '2026-12-07T21:30:00Z', success: true, amountAtomic: 1n })),
    ]);
    const folder = new TallyFolder(adb.pool, {}, silentLog);
    await folder.foldNow();
    await folder.stop();
    const pending = await adb.pool.query(`SELECT 1 FROM rollup_pending WHERE entity_id = $1`, [a.agentId]);
    expect(pending.rowCount).toBe(0);
    await committed(a.agentId);
    const byType = new Map((await alertsOf(adb.pool, a.agentId)).map((x) => [x.type, x.data]));
    expect([...byType.keys()].sort()).toEqual(['high_error_rate', 'spend_limit']);
    expect(byType.get('high_error_rate')).toMatchObject({ requests: 40, failed_requests: 20, error_rate: 0.5 });
    expect(byType.get('spend_limit')).toEqual({ spend_atomic: '100000020', daily_spend_limit_atomic: '100000000', day: '2026-12-07' });
  });
});
