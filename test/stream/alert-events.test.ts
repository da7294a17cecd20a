/**
 * `alert` events (docs/read-api.md §4, §5): every change of an alert (fired, resolved,
 * acknowledged) reaches the subscribers of its agent and of its tenant on every receiver,
 * with the alert object as that change left it, and resumes by id like the other events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgeAlert, AlertEvaluator } from '../../src/alerts/index.js';
import { DEFAULT_ALERT_SETTINGS } from '../../src/read/index.js';
import { silentLog, snapshot } from '../alerts/support.js';
import {
  apiKeyWithScopes,
  bearer,
  eventsUrl,
  insertInteractions,
  linkedAgent,
  listen,
  startStreamServer,
  streamDatabase,
  type ReceivedEvent,
  type StreamDatabase,
  type StreamServer,
} from './support.js';

const USDC = 1_000_000n;
const alertEvents = (events: ReceivedEvent[]): ReceivedEvent[] => events.filter((e) => e.type === 'alert');

describe('alert events on the stream', () => {
  let d: StreamDatabase;
  let a: StreamServer;
  let b: StreamServer;
  let keyA: string;
  let keyB: string;
  let evaluator: AlertEvaluator;

  beforeAll(async () => {
    d = await streamDatabase('stream_alerts');
    a = await startStreamServer(d);
    b = await startStreamServer(d);
    keyA = await apiKeyWithScopes(d.pool, 'tenant-a', ['read']);
    keyB = await apiKeyWithScopes(d.pool, 'tenant-b', ['read']);
    // The evaluator wakes receiver a's stream after each change, as the receiver wires it;
    // receiver b learns of it from a's NOTIFY or its own poll.
    evaluator = new AlertEvaluator({ pool: d.pool, log: silentLog, onChange: () => a.stream.notifier.committed() });
  });
  afterAll(async () => {
    await evaluator?.stop();
    await a?.close();
    await b?.close();
    await d?.close();
  });

  it('streams fired, acknowledged and resolved to agent and tenant topics on both receivers, and to nobody else', async () => {
    const agent = await linkedAgent(d.pool, 'tenant-a');
    const onA = listen(eventsUrl(a.baseUrl, 'agent:*'), bearer(keyA));
    const onB = listen(eventsUrl(b.baseUrl, `agent:${agent}`), bearer(keyA));
    const otherTenant = listen(eventsUrl(b.baseUrl, 'agent:*'), bearer(keyB));
    await Promise.all([onA.opened, onB.opened, otherTenant.opened]);

    const low = DEFAULT_ALERT_SETTINGS.lowBalanceThresholdAtomic;
    await snapshot(d.pool, agent, Date.now(), low - USDC);
    evaluator.touch(agent);
    await evaluator.flush();
    const fired = (await d.pool.query<{ id: string }>(`SELECT id::text FROM agent_alerts WHERE agent_id = $1 AND type = 'low_balance'`, [agent])).rows[0];
    expect(fired).toBeDefined();
    const acked = await acknowledgeAlert(d.pool, fired?.id ?? '', { kind: 'tenant', tenantId: 'tenant-a' }, Date.now());
    expect(acked?.acknowledged_at).not.toBeNull();
    // Acknowledging again changes nothing, so it is not an event.
    await acknowledgeAlert(d.pool, fired?.id ?? '', { kind: 'tenant', tenantId: 'tenant-a' }, Date.now() + 1000);
    await snapshot(d.pool, agent, Date.now() + 1, low + USDC);
    evaluator.touch(agent);
    await evaluator.flush();

    const lifecycle = (events: ReceivedEvent[]) => alertEvents(events).filter((e) => e.data.type === 'low_balance');
    await Promise.all([onA.until((e) => lifecycle(e).length >= 3), onB.until((e) => lifecycle(e).length >= 3)]);
    for (const l of [onA, onB]) {
      const seen = lifecycle(l.events);
      expect(seen.map((e) => [e.data.state, e.data.acknowledged_at === null])).toEqual([
        ['firing', true],
        ['firing', false],
        ['resolved', false],
      ]);
      for (const e of seen) {
        expect(e.data).toMatchObject({ id: fired?.id, agent_id: agent, type: 'low_balance', severity: 'warning' });
        expect(Object.keys(e.data).sort()).toEqual(
          ['acknowledged_at', 'agent_id', 'data', 'fired_at', 'id', 'message', 'resolved_at', 'severity', 'state', 'type'].sort(),
        );
      }
      expect(seen[2]?.data.resolved_at).toEqual(expect.any(String));
    }
    // The same ids on both receivers: one log.
    expect(lifecycle(onA.events).map((e) => e.id.split('.').slice(0, 3).join('.'))).toEqual(
      lifecycle(onB.events).map((e) => e.id.split('.').slice(0, 3).join('.')),
    );
    expect(alertEvents(otherTenant.events)).toEqual([]);
    for (const l of [onA, onB, otherTenant]) l.close();
  });

  it('resumes across receivers: an alert change missed while disconnected arrives once, in commit order with rows', async () => {
    const agent = await linkedAgent(d.pool, 'tenant-a');
    const first = listen(eventsUrl(a.baseUrl, `agent:${agent}`), bearer(keyA));
    await first.opened;
    await insertInteractions(d.pool, agent, [1, 2]);
    await first.until((e) => e.filter((x) => x.type === 'interaction').length === 2);
    const lastId = first.events[first.events.length - 1]?.id ?? '';
    first.close();

    // While nobody listens to this agent: an alert fires, then more rows.
    await snapshot(d.pool, agent, Date.now(), DEFAULT_ALERT_SETTINGS.lowBalanceThresholdAtomic - USDC);
    evaluator.touch(agent);
    await evaluator.flush();
    await insertInteractions(d.pool, agent, [3]);

    const resumed = listen(eventsUrl(b.baseUrl, `agent:${agent}`), { ...bearer(keyA), 'last-event-id': lastId });
    await resumed.until((e) => e.some((x) => x.type === 'interaction' && x.data.nonce === '3'));
    // telemetry (the snapshot's row), then the alert it fired, then the interaction.
    expect(resumed.events.map((e) => e.type)).toEqual(['telemetry', 'alert', 'interaction']);
    expect(resumed.events[1]?.data).toMatchObject({ agent_id: agent, type: 'low_balance', state: 'firing' });
    resumed.close();
  });
});
