/**
 * The evaluator around the rules: per-agent settings over configured defaults, who may raise
 * alerts, one alert with several receivers, webhooks queued in the alert's transaction, the
 * timing of docs/read-api.md §5, and the bounded set of touched agents.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireInTransaction, type Alert } from '../../src/alerts/index.js';
import { DEFAULT_ALERT_SETTINGS } from '../../src/read/index.js';
import { createWebhook } from '../../src/webhooks/webhook-store.js';
import { alertsOf, evaluatorOn, linkedAgent, openAlertDatabase, setSettings, snapshot, states, TestClock, type AlertDatabase } from './support.js';

let adb: AlertDatabase;

beforeAll(async () => {
  adb = await openAlertDatabase('alerts_evaluator');
});
afterAll(async () => {
  await adb.close();
});

const USDC = 1_000_000n;

interface DeliveryRow {
  event_type: string;
  payload: { type: string; timestamp: string; data: Alert };
}

async function deliveriesOf(tenant: string): Promise<DeliveryRow[]> {
  const { rows } = await adb.pool.query<DeliveryRow>(
    `SELECT d.event_type, d.payload FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.tenant_id = $1 ORDER BY d.id`,
    [tenant],
  );
  return rows;
}

async function webhookFor(tenant: string): Promise<void> {
  await createWebhook(adb.pool, { tenantId: tenant, url: 'https://hooks.example.com/alerts', eventTypes: ['alert.firing', 'alert.resolved'], description: null });
}

describe('settings', () => {
  it("an agent's own setting overrides the configured default, which overrides the built-in one", async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    // Configured: 3 USDC instead of the built-in 5.
    const ev = evaluatorOn(adb.pool, clock, { defaults: { ...DEFAULT_ALERT_SETTINGS, lowBalanceThresholdAtomic: 3n * USDC } });
    const byDefault = await linkedAgent(adb.pool, 'tenant-set');
    const own = await linkedAgent(adb.pool, 'tenant-set', { low_balance_threshold_atomic: '1000000' });
    const higher = await linkedAgent(adb.pool, 'tenant-set', { low_balance_threshold_atomic: '10000000' });
    for (const a of [byDefault, own, higher]) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:59Z', 2n * USDC);
    ev.touchMany([byDefault.agentId, own.agentId, higher.agentId]);
    await ev.flush();
    expect(await states(adb.pool, byDefault.agentId)).toEqual(['low_balance:firing']);
    expect(await states(adb.pool, own.agentId)).toEqual([]);
    expect(await states(adb.pool, higher.agentId)).toEqual(['low_balance:firing']);
    expect((await alertsOf(adb.pool, byDefault.agentId))[0]?.data.low_balance_threshold_atomic).toBe('3000000');
    expect((await alertsOf(adb.pool, higher.agentId))[0]?.data.low_balance_threshold_atomic).toBe('10000000');
    await ev.stop();
  });
});

describe('who raises alerts', () => {
  it('nothing for an agent with alerts_enabled false, or not linked to a tenant', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const ev = evaluatorOn(adb.pool, clock);
    const disabled = await linkedAgent(adb.pool, 'tenant-who', { alerts_enabled: false });
    const unlinked = await linkedAgent(adb.pool, null);
    for (const a of [disabled, unlinked]) await snapshot(adb.pool, a.agentId, '2026-12-07T11:00:00Z', 0n);
    ev.touchMany([disabled.agentId, unlinked.agentId]);
    await ev.flush();
    await ev.sweepNow(); // stale for an hour, too
    expect(await states(adb.pool, disabled.agentId)).toEqual([]);
    expect(await states(adb.pool, unlinked.agentId)).toEqual([]);
    await ev.stop();
  });

  it('a configured default of alerts_enabled false holds for agents that did not set it', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const ev = evaluatorOn(adb.pool, clock, { defaults: { ...DEFAULT_ALERT_SETTINGS, alertsEnabled: false } });
    const byDefault = await linkedAgent(adb.pool, 'tenant-who');
    const optedIn = await linkedAgent(adb.pool, 'tenant-who', { alerts_enabled: true });
    for (const a of [byDefault, optedIn]) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:00Z', 0n);
    ev.touchMany([byDefault.agentId, optedIn.agentId]);
    await ev.flush();
    expect(await states(adb.pool, byDefault.agentId)).toEqual([]);
    expect(await states(adb.pool, optedIn.agentId)).toEqual(['low_balance:firing']);
    await ev.stop();
  });

  it('turning alerts off, or unlinking, resolves the open alerts for the tenant they fired for', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const ev = evaluatorOn(adb.pool, clock);
    await webhookFor('tenant-off');
    const off = await linkedAgent(adb.pool, 'tenant-off');
    const moved = await linkedAgent(adb.pool, 'tenant-off');
    for (const a of [off, moved]) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:00Z', 0n);
    ev.touchMany([off.agentId, moved.agentId]);
    await ev.flush();
    await setSettings(adb.pool, off.agentId, { alerts_enabled: false });
    await setSettings(adb.pool, moved.agentId, { tenant_id: 'tenant-elsewhere' });
    clock.advance(1000);
    await ev.sweepNow(); // open alerts are swept without any new event
    expect((await alertsOf(adb.pool, off.agentId)).map((a) => [a.state, a.data.resolution])).toEqual([['resolved', { reason: 'alerts_disabled' }]]);
    // The agent's new tenant gets an alert of its own; the old one was told of the resolution.
    const movedAlerts = await alertsOf(adb.pool, moved.agentId);
    expect(movedAlerts.map((a) => [a.tenant_id, a.state, (a.data.resolution as { reason?: string } | undefined)?.reason])).toEqual([
      ['tenant-off', 'resolved', 'agent_unlinked'],
      ['tenant-elsewhere', 'firing', undefined],
    ]);
    expect((await deliveriesOf('tenant-off')).map((d) => d.event_type)).toEqual(['alert.firing', 'alert.firing', 'alert.resolved', 'alert.resolved']);
    await ev.stop();
  });
});

describe('several receivers', () => {
  it('two evaluators on one database raise each alert once and resolve it once, with one webhook delivery each', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const tenant = 'tenant-two';
    await webhookFor(tenant);
    const one = evaluatorOn(adb.pool, clock);
    const two = evaluatorOn(adb.pool, clock);
    const agents = await Promise.all(Array.from({ length: 12 }, () => linkedAgent(adb.pool, tenant)));
    for (const a of agents) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:00Z', 1n);
    const ids = agents.map((a) => a.agentId);
    for (let i = 0; i < 3; i++) {
      one.touchMany(ids);
      two.touchMany([...ids].reverse());
      await Promise.all([one.flush(), two.flush()]);
    }
    for (const a of agents) expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:firing']);
    expect((await deliveriesOf(tenant)).filter((d) => d.event_type === 'alert.firing')).toHaveLength(12);

    clock.advance(1000);
    for (const a of agents) await snapshot(adb.pool, a.agentId, '2026-12-07T12:00:00Z', 100n * USDC);
    one.touchMany(ids);
    two.touchMany(ids);
    await Promise.all([one.flush(), two.flush()]);
    for (const a of agents) expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:resolved']);
    expect((await deliveriesOf(tenant)).filter((d) => d.event_type === 'alert.resolved')).toHaveLength(12);
    await Promise.all([one.stop(), two.stop()]);
  });
});

describe('webhooks in the alert transaction', () => {
  it('a change queues a delivery of the alert as the API shows it, and wakes the dispatcher after the commit', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const tenant = 'tenant-hook';
    await webhookFor(tenant);
    const woken: number[] = [];
    const changes: Alert[] = [];
    const ev = evaluatorOn(adb.pool, clock, {
      wakeWebhooks: () => woken.push(1),
      onChange: (a) => changes.push(a),
    });
    const a = await linkedAgent(adb.pool, tenant);
    await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:00Z', 0n);
    ev.touch(a.agentId);
    await ev.flush();
    const [firing] = await deliveriesOf(tenant);
    expect(firing?.payload.type).toBe('alert.firing');
    expect(firing?.payload.timestamp).toBe('2026-12-07T12:00:00.000Z');
    expect(firing?.payload.data).toEqual(changes[0]);
    expect(firing?.payload.data).toMatchObject({ agent_id: a.agentId, type: 'low_balance', state: 'firing', resolved_at: null, acknowledged_at: null });
    expect(woken).toHaveLength(1);

    clock.advance(60_000);
    await snapshot(adb.pool, a.agentId, '2026-12-07T12:00:30Z', 50n * USDC);
    ev.touch(a.agentId);
    await ev.flush();
    const resolved = (await deliveriesOf(tenant))[1];
    expect(resolved?.payload).toMatchObject({ type: 'alert.resolved', data: { id: firing?.payload.data.id, state: 'resolved', resolved_at: '2026-12-07T12:01:00.000Z' } });
    expect(woken).toHaveLength(2);
    await ev.stop();
  });

  it('a rolled-back transaction leaves neither the alert nor its delivery', async () => {
    const tenant = 'tenant-rollback';
    await webhookFor(tenant);
    const a = await linkedAgent(adb.pool, tenant);
    const client = await adb.pool.connect();
    try {
      await client.query('BEGIN');
      const alert = await fireInTransaction(client, { agentId: a.agentId, tenantId: tenant, type: 'low_balance', message: 'm', data: {}, firedAtMs: Date.now() });
      expect(alert?.state).toBe('firing');
      expect(await deliveriesOfIn(client, tenant)).toBe(1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await alertsOf(adb.pool, a.agentId)).toEqual([]);
    expect(await deliveriesOf(tenant)).toEqual([]);
  });

  it('when queueing the delivery fails, the alert is not raised either, and the next round raises both', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const tenant = 'tenant-fail';
    await webhookFor(tenant);
    const a = await linkedAgent(adb.pool, tenant);
    await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:00Z', 0n);
    await adb.pool.query(`
      CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'queue refused'; END $$;
      CREATE TRIGGER refuse_delivery BEFORE INSERT ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION refuse_delivery();`);
    const ev = evaluatorOn(adb.pool, clock, { options: { retryDelayMs: 60_000 } });
    try {
      ev.touch(a.agentId);
      await ev.flush();
      expect(await alertsOf(adb.pool, a.agentId)).toEqual([]);
      expect(ev.stats().pendingAgents).toBe(1);
    } finally {
      await adb.pool.query('DROP TRIGGER refuse_delivery ON webhook_deliveries; DROP FUNCTION refuse_delivery();');
    }
    await ev.flush();
    expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:firing']);
    expect(await deliveriesOf(tenant)).toHaveLength(1);
    await ev.stop();
  });
});

async function deliveriesOfIn(client: import('pg').PoolClient, tenant: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.tenant_id = $1',
    [tenant],
  );
  return Number(rows[0]?.n);
}

describe('timing (real clock)', () => {
  it('an alert fires within 2 s of the commit that crosses its threshold', async () => {
    const ev = evaluatorOn(adb.pool, new TestClock(0), { clock: Date.now });
    ev.start();
    try {
      const a = await linkedAgent(adb.pool, 'tenant-time');
      await snapshot(adb.pool, a.agentId, Date.now(), 1n);
      const committedAt = Date.now();
      ev.touch(a.agentId);
      for (;;) {
        if ((await states(adb.pool, a.agentId)).length > 0) break;
        expect(Date.now() - committedAt).toBeLessThan(2000);
        await sleep(20);
      }
      const [fired] = await alertsOf(adb.pool, a.agentId);
      expect(fired?.fired_at.getTime()).toBeLessThan(committedAt + 2000);
    } finally {
      await ev.stop();
    }
  });

  it('the sweep finds a time-based change without any touch', async () => {
    const ev = evaluatorOn(adb.pool, new TestClock(0), { clock: Date.now, options: { sweepIntervalMs: 1000 } });
    const a = await linkedAgent(adb.pool, 'tenant-time');
    ev.start();
    try {
      // Stale from the first sweep after it commits (5 minutes and a second of silence).
      await snapshot(adb.pool, a.agentId, Date.now() - 301_000, 100n * USDC);
      const committedAt = Date.now();
      for (;;) {
        if ((await states(adb.pool, a.agentId)).length > 0) break;
        expect(Date.now() - committedAt).toBeLessThan(3000);
        await sleep(50);
      }
      expect(await states(adb.pool, a.agentId)).toEqual(['stale_telemetry:firing']);
    } finally {
      await ev.stop();
    }
  });
});

describe('the set of touched agents', () => {
  it('is bounded; what does not fit is covered by a pass over every linked agent', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const ev = evaluatorOn(adb.pool, clock, { options: { maxPendingAgents: 3, maxAgentsPerRound: 2 } });
    const agents = await Promise.all(Array.from({ length: 6 }, () => linkedAgent(adb.pool, 'tenant-bound')));
    for (const a of agents) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:30Z', 0n);
    ev.touchMany(agents.map((a) => a.agentId));
    expect(ev.stats()).toMatchObject({ pendingAgents: 3, droppedTouches: 3, fullPassRunning: true });
    await ev.flush();
    for (const a of agents) expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:firing']);
    expect(ev.stats()).toMatchObject({ pendingAgents: 0, fullPassRunning: false });
    await ev.stop();
  });

  it('evaluateAll covers agents nobody touched (a spool replay, settings changed in bulk)', async () => {
    const clock = new TestClock(Date.parse('2026-12-07T12:00:00Z'));
    const ev = evaluatorOn(adb.pool, clock, { options: { maxAgentsPerRound: 2 } });
    const agents = await Promise.all(Array.from({ length: 5 }, () => linkedAgent(adb.pool, 'tenant-all')));
    for (const a of agents) await snapshot(adb.pool, a.agentId, '2026-12-07T11:59:30Z', 0n);
    ev.evaluateAll();
    await ev.flush();
    for (const a of agents) expect(await states(adb.pool, a.agentId)).toEqual(['low_balance:firing']);
    await ev.stop();
  });
});
