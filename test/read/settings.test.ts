/** docs/read-api.md §5 settings: defaults from the configuration, PUT by admins, 400 invalid_settings naming the field. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_SETTINGS } from '../../src/read/index.js';
import { apiKeyWithScopes, errorCode, errorMessage, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

let s: ReadServer;
let admin: string;
let read: string;
let otherAdmin: string;

beforeAll(async () => {
  // A configured default differs from the built-in one, to show where the defaults come from.
  s = await startReadServer('read_settings', { defaults: { ...DEFAULT_ALERT_SETTINGS, runwayAlertHours: 48 } });
  admin = await apiKeyWithScopes(s.pool, 'tenant-s', ['admin']);
  read = await apiKeyWithScopes(s.pool, 'tenant-s', ['read']);
  otherAdmin = await apiKeyWithScopes(s.pool, 'tenant-t', ['admin']);
});

afterAll(async () => {
  await s?.close();
});

const path = (agentId: string): string => `/v1/agent/settings?agent_id=${agentId}`;

describe('/v1/agent/settings', () => {
  it('shows the configured defaults for an agent that set nothing', async () => {
    const agent = await seedAgent(s.pool, 'tenant-s');
    const r = await withKey(s.baseUrl, 'GET', path(agent.agentId), read);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      agent_id: agent.agentId,
      low_balance_threshold_atomic: '5000000',
      runway_alert_hours: 48,
      daily_spend_limit_atomic: '100000000',
      error_rate_threshold: 0.2,
      error_rate_min_requests: 20,
      alerts_enabled: true,
      defaults: ['low_balance_threshold_atomic', 'runway_alert_hours', 'daily_spend_limit_atomic', 'error_rate_threshold', 'error_rate_min_requests', 'alerts_enabled'],
    });
  });

  it('stores what an admin PUTs, exactly, and null goes back to the default', async () => {
    const agent = await seedAgent(s.pool, 'tenant-s');
    const put = await withKey(s.baseUrl, 'PUT', path(agent.agentId), admin, {
      low_balance_threshold_atomic: '9223372036854775807',
      runway_alert_hours: 6.5,
      error_rate_threshold: 1,
      alerts_enabled: false,
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      low_balance_threshold_atomic: '9223372036854775807',
      runway_alert_hours: 6.5,
      error_rate_threshold: 1,
      alerts_enabled: false,
      daily_spend_limit_atomic: '100000000',
      defaults: ['daily_spend_limit_atomic', 'error_rate_min_requests'],
    });
    expect((await withKey(s.baseUrl, 'GET', path(agent.agentId), read)).json).toEqual(put.json);
    const reset = await withKey(s.baseUrl, 'PUT', path(agent.agentId), admin, { runway_alert_hours: null, daily_spend_limit_atomic: 250 });
    expect(reset.json).toMatchObject({ runway_alert_hours: 48, daily_spend_limit_atomic: '250' });
    // The agent reads its own settings, signed.
    const own = await signed(s.baseUrl, 'GET', '/v1/agent/settings', agent);
    expect(own.json).toEqual(reset.json);
  });

  it('refuses invalid values with 400 invalid_settings naming the field, and changes nothing', async () => {
    const agent = await seedAgent(s.pool, 'tenant-s');
    const cases: [Record<string, unknown>, string][] = [
      [{ low_balance_threshold_atomic: '-1' }, 'low_balance_threshold_atomic'],
      [{ low_balance_threshold_atomic: '9223372036854775808' }, 'low_balance_threshold_atomic'],
      [{ daily_spend_limit_atomic: 1.5 }, 'daily_spend_limit_atomic'],
      [{ runway_alert_hours: -1 }, 'runway_alert_hours'],
      [{ runway_alert_hours: '24' }, 'runway_alert_hours'],
      [{ error_rate_threshold: 0 }, 'error_rate_threshold'],
      [{ error_rate_threshold: 1.01 }, 'error_rate_threshold'],
      [{ error_rate_min_requests: 0 }, 'error_rate_min_requests'],
      [{ error_rate_min_requests: 2.5 }, 'error_rate_min_requests'],
      [{ alerts_enabled: 'yes' }, 'alerts_enabled'],
      [{ alerts_enabled: true, alert_enabled: false }, 'alert_enabled'],
    ];
    for (const [body, field] of cases) {
      const r = await withKey(s.baseUrl, 'PUT', path(agent.agentId), admin, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(errorCode(r)).toBe('invalid_settings');
      expect(errorMessage(r)).toContain(`'${field}'`);
    }
    const notJson = await fetch(`${s.baseUrl}${path(agent.agentId)}`, { method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: '[1]' });
    expect(notJson.status).toBe(400);
    const { rows } = await s.pool.query('SELECT alerts_enabled, runway_alert_hours FROM agents WHERE pubkey = $1', [agent.agentId]);
    expect(rows[0]).toEqual({ alerts_enabled: null, runway_alert_hours: null });
  });

  it('answers 404 for another tenant, 403 for a read key, 413 past the body limit', async () => {
    const agent = await seedAgent(s.pool, 'tenant-s');
    expect((await withKey(s.baseUrl, 'PUT', path(agent.agentId), otherAdmin, { alerts_enabled: false })).status).toBe(404);
    expect((await withKey(s.baseUrl, 'GET', path(agent.agentId), otherAdmin)).status).toBe(404);
    expect((await withKey(s.baseUrl, 'PUT', path(agent.agentId), read, { alerts_enabled: false })).status).toBe(403);
    const big = await withKey(s.baseUrl, 'PUT', path(agent.agentId), admin, { alerts_enabled: false, pad: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect(errorCode(big)).toBe('body_too_large');
  });
});
