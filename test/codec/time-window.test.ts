import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_TIME_LIMITS, newEventTimeWindow, setEventTimeWindow, type EventContext } from '../../src/codec/index.js';
import { agentCtx, gatewayRequest, ingestCtx, interaction, jsonBytes, rejection, run, runOne, telemetry } from './support.js';

/**
 * docs/protocol.md §2: an event's time (a telemetry report's period_end) lies between
 * 35 days before and 5 minutes after the receiver's clock, both ends included, else that
 * event alone is invalid_event with the field named.
 */

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const DAY = 86_400_000;
const window = newEventTimeWindow(DEFAULT_EVENT_TIME_LIMITS, NOW);
const agent: EventContext = { ...agentCtx, timeWindow: window };
const ingest: EventContext = { ...ingestCtx, timeWindow: window };

/** RFC 3339 with microseconds: `ms` from the epoch plus `us` more microseconds. */
function at(ms: number, us = 0): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${String(us).padStart(3, '0')}Z`;
}

const earliest = NOW - 35 * DAY;
const latest = NOW + 5 * 60_000;

describe('event-time window', () => {
  it.each([
    ['interaction', (t: string) => interaction({}, { time: t }), agent, 'agent_interactions'],
    ['gateway request', (t: string) => gatewayRequest({}, { time: t }), ingest, 'gateway_telemetry'],
  ] as const)('%s: accepts both ends and refuses a microsecond beyond either', (_name, make, ctx, table) => {
    expect(runOne(make(at(earliest)), table, ctx).rows).toHaveLength(1);
    expect(runOne(make(at(latest)), table, ctx).rows).toHaveLength(1);
    for (const outside of [at(earliest - 1, 999), at(latest, 1)]) {
      const { result, rows } = runOne(make(outside), table, ctx);
      expect(rows).toHaveLength(0);
      const r = rejection(result);
      expect(r.code).toBe('invalid_event');
      expect(r.message).toMatch(/^time: must lie between 35 days before and 5 minutes after the receiver's clock/);
    }
  });

  it('applies the offset of the time before comparing', () => {
    // latest + 1 s written in +01:00 is still outside; latest written in -01:00 is inside.
    const plusOne = new Date(latest + 1000 + 3_600_000).toISOString().slice(0, 19) + '+01:00';
    expect(rejection(runOne(interaction({}, { time: plusOne }), 'agent_interactions', agent).result).code).toBe('invalid_event');
    const minusOne = new Date(latest - 3_600_000).toISOString().slice(0, 19) + '-01:00';
    expect(runOne(interaction({}, { time: minusOne }), 'agent_interactions', agent).rows).toHaveLength(1);
  });

  it('telemetry: period_end is the time that counts, not the envelope time', () => {
    const end = Math.floor(latest / 1000);
    const inside = telemetry({ period_start: end - 60, period_end: end }, { time: '2001-01-01T00:00:00Z' });
    expect(runOne(inside, 'agent_telemetry', agent).rows).toHaveLength(1);
    const oldest = Math.ceil(earliest / 1000);
    expect(runOne(telemetry({ period_start: oldest - 60, period_end: oldest }), 'agent_telemetry', agent).rows).toHaveLength(1);

    for (const periodEnd of [end + 1, oldest - 1, 0, 253402300799]) {
      const { result, rows } = runOne(telemetry({ period_start: 0, period_end: periodEnd }), 'agent_telemetry', agent);
      expect(rows).toHaveLength(0);
      expect(rejection(result).message).toMatch(/^data\.period_end: must lie between 35 days before and 5 minutes after/);
    }
  });

  it('rejects only the event outside the window: the rest of the batch is stored', () => {
    const { result } = run(
      jsonBytes([
        interaction({ nonce: 1 }, { time: at(NOW) }),
        interaction({ nonce: 2 }, { time: '0001-01-01T00:00:00Z' }),
        interaction({ nonce: 3 }, { time: '9999-12-31T23:59:59Z' }),
        interaction({ nonce: 4 }, { time: at(NOW - DAY) }),
      ]),
      undefined,
      agent,
    );
    expect(result).toMatchObject({ ok: true, accepted: 2, rejected: [{ index: 1, code: 'invalid_event' }, { index: 2, code: 'invalid_event' }] });
  });

  it('follows the clock it is given and the configured limits', () => {
    const w = newEventTimeWindow({ maxAgeMs: 3_600_000, maxFutureMs: 0 }, NOW);
    const ctx: EventContext = { ...agentCtx, timeWindow: w };
    const evt = interaction({}, { time: at(NOW - 2 * 3_600_000) });
    expect(rejection(runOne(evt, 'agent_interactions', ctx).result).message).toMatch(/between 1 hour before and 0 ms after/);
    setEventTimeWindow(w, NOW - 3_600_000);
    expect(runOne(evt, 'agent_interactions', ctx).rows).toHaveLength(1);
    expect(rejection(runOne(interaction({}, { time: at(NOW - 3_600_000, 1) }), 'agent_interactions', ctx).result).code).toBe('invalid_event');
  });
});
