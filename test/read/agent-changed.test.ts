/**
 * ReadApiDeps.onAgentChanged: called with the agent's id once a settings PUT, a link
 * confirmation or an unlink has committed (the alert evaluator re-reads the agent), and
 * never for a refused request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgent } from '../helpers/agent.js';
import { apiKeyWithScopes, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

let s: ReadServer;
let admin: string;
let otherAdmin: string;
const changed: string[] = [];
let failNext = false;

beforeAll(async () => {
  s = await startReadServer('read_changed', {
    onAgentChanged: (agentId) => {
      changed.push(agentId);
      // A failing listener must not change the answer.
      if (failNext) {
        failNext = false;
        throw new Error('listener failed');
      }
    },
  });
  admin = await apiKeyWithScopes(s.pool, 'tenant-c', ['read', 'admin']);
  otherAdmin = await apiKeyWithScopes(s.pool, 'tenant-d', ['admin']);
});

afterAll(async () => {
  await s?.close();
});

function drain(): string[] {
  return changed.splice(0, changed.length);
}

describe('onAgentChanged', () => {
  it('reports a confirmed link, after the commit', async () => {
    const agent = newAgent();
    const init = await signed(s.baseUrl, 'POST', '/v1/link/init', agent, { body: {} });
    expect(drain()).toEqual([]);
    const code = (init.json as { code: string }).code;
    expect((await withKey(s.baseUrl, 'POST', '/v1/link/confirm', admin, { code: 'ZZZZ-ZZZZ' })).status).toBe(400);
    expect(drain()).toEqual([]);
    const confirmed = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', admin, { code });
    expect(confirmed.status).toBe(200);
    expect(drain()).toEqual([agent.agentId]);
  });

  it('reports a settings change, and not a refused one', async () => {
    const agent = await seedAgent(s.pool, 'tenant-c');
    const path = `/v1/agent/settings?agent_id=${agent.agentId}`;
    expect((await withKey(s.baseUrl, 'PUT', path, admin, { runway_alert_hours: -1 })).status).toBe(400);
    expect((await withKey(s.baseUrl, 'PUT', path, otherAdmin, { runway_alert_hours: 3 })).status).toBe(404);
    expect(drain()).toEqual([]);
    expect((await withKey(s.baseUrl, 'PUT', path, admin, { runway_alert_hours: 3 })).status).toBe(200);
    expect(drain()).toEqual([agent.agentId]);
  });

  it('reports an unlink, and not an unlink of an agent the tenant does not hold', async () => {
    const agent = await seedAgent(s.pool, 'tenant-c');
    expect((await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, otherAdmin)).status).toBe(404);
    expect(drain()).toEqual([]);
    expect((await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, admin)).status).toBe(204);
    expect(drain()).toEqual([agent.agentId]);
  });

  it('answers as usual when the listener throws', async () => {
    const agent = await seedAgent(s.pool, 'tenant-c');
    failNext = true;
    expect((await withKey(s.baseUrl, 'PUT', `/v1/agent/settings?agent_id=${agent.agentId}`, admin, { alerts_enabled: false })).status).toBe(200);
    expect(drain()).toEqual([agent.agentId]);
    expect(failNext).toBe(false);
  });
});
