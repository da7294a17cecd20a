import type pg from 'pg';
import { RateLimiter } from '../server/index.js';
import { agentAccess, resolveAgent } from './agent-access.js';
import { agentHistory } from './agent-history.js';
import { agentMetrics } from './agent-metrics.js';
import { agentVendors } from './agent-vendors.js';
import { listAgents } from './agents-list.js';
import { parseSettingsUpdate, readSettings, writeSettings, type AlertDefaults } from './alert-settings.js';
import { balancePoints } from './balances.js';
import { gatewayMetrics } from './gateway-metrics.js';
import { confirmLink, initLink, unlinkAgent } from './linking.js';
import type { Principal } from './principal.js';
import { isAgentId, parseBoolean, parseGatewayId, parseLimit, parseVendorId } from './query-params.js';
import { AGENT_NOT_FOUND, ReadError } from './read-errors.js';
import type { Call, ReadEndpoint, Reply } from './read-route.js';
import { onlyKeys, parseJsonObject, parseName } from './request-body.js';
import { isoMs } from './times.js';
import { checkRetained, parseWindow, WINDOW_PARAMS, type RollupRetention } from './window.js';

export interface EndpointDeps {
  pool: pg.Pool;
  defaults: AlertDefaults;
  /** Confirm attempts per API key: a link code has 40 bits, and this keeps guessing slow. */
  confirmLimiter: RateLimiter;
  /** Called once a change of an agent's settings or link has committed. */
  onAgentChanged: (agentId: string) => void;
  /** What the rollup tables keep: bucketed windows reaching further back are refused. */
  retention: RollupRetention;
}

const SMALL_BODY = 4096;
const AGENT_WINDOW = ['agent_id', ...WINDOW_PARAMS] as const;

function ok(body: unknown, status = 200): Reply {
  return { status, body };
}

/** A read that finds nothing when its access does not hold (agent-access.ts). */
function found(body: unknown): Reply | ReadError {
  return body === null ? AGENT_NOT_FOUND : ok(body);
}

function keyOf(p: Principal): { tenantId: string; keyId: string } {
  if (p.kind !== 'key') throw new Error('an endpoint that needs a key was called by an agent');
  return { tenantId: p.key.tenantId, keyId: p.key.id };
}

/** Every read-side endpoint of docs/read-api.md §1–§3 and the settings of §5. */
export function readEndpoints(d: EndpointDeps): ReadEndpoint[] {
  const windowed = (call: Call, required: boolean) => parseWindow(call.query, call.nowMs, required);
  /** A window read from the rollups: parsed, and refused when its buckets are no longer kept. */
  const bucketed = (call: Call) => {
    const w = parseWindow(call.query, call.nowMs, true);
    if (w instanceof ReadError || w === null) return w ?? new ReadError('invalid_query');
    return checkRetained(w, call.nowMs, d.retention) ?? w;
  };
  return [
    {
      method: 'get',
      pattern: '/v1/agent/metrics',
      query: AGENT_WINDOW,
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const w = bucketed(call);
        if (w instanceof ReadError) return w;
        const access = agentAccess(call.principal, call.query);
        if (access instanceof ReadError) return access;
        return found(await agentMetrics(d.pool, access, w, call.nowMs));
      },
    },
    {
      method: 'get',
      pattern: '/v1/agent/vendors',
      query: AGENT_WINDOW,
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const w = bucketed(call);
        if (w instanceof ReadError) return w;
        const access = agentAccess(call.principal, call.query);
        if (access instanceof ReadError) return access;
        return found(await agentVendors(d.pool, access, w));
      },
    },
    {
      method: 'get',
      pattern: '/v1/agent/history',
      query: [...AGENT_WINDOW, 'cursor', 'limit', 'vendor_id', 'success'],
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const window = windowed(call, false);
        const limit = parseLimit(call.query);
        const vendorId = parseVendorId(call.query);
        const success = parseBoolean(call.query, 'success');
        for (const v of [window, limit, vendorId, success]) if (v instanceof ReadError) return v;
        const access = agentAccess(call.principal, call.query);
        if (access instanceof ReadError) return access;
        const page = await agentHistory(d.pool, access, {
          window: window as Exclude<typeof window, ReadError>,
          limit: limit as number,
          vendorId: vendorId as string | undefined,
          success: success as boolean | undefined,
          cursor: call.query.get('cursor'),
        });
        return page instanceof ReadError ? page : found(page);
      },
    },
    {
      method: 'get',
      pattern: '/v1/agent/balance',
      query: AGENT_WINDOW,
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const w = windowed(call, true);
        if (w instanceof ReadError || w === null) return w ?? new ReadError('invalid_query');
        const access = agentAccess(call.principal, call.query);
        if (access instanceof ReadError) return access;
        const points = await balancePoints(d.pool, access, w);
        return points === null ? AGENT_NOT_FOUND : ok({ agent_id: access.agentId, from: isoMs(w.fromMs), to: isoMs(w.toMs), points });
      },
    },
    {
      method: 'get',
      pattern: '/v1/agent/settings',
      query: ['agent_id'],
      need: { scope: 'read', agentMayCall: true },
      async handle(call) {
        const agentId = await resolveAgent(d.pool, call.principal, call.query);
        if (agentId instanceof ReadError) return agentId;
        const s = await readSettings(d.pool, agentId, d.defaults);
        return s instanceof ReadError ? s : ok(s);
      },
    },
    {
      method: 'put',
      pattern: '/v1/agent/settings',
      query: ['agent_id'],
      need: { scope: 'admin', agentMayCall: false },
      maxBody: SMALL_BODY,
      async handle(call) {
        const agentId = call.query.get('agent_id');
        if (agentId === undefined) return new ReadError('invalid_query', "Query parameter 'agent_id' is required.");
        if (!isAgentId(agentId)) return new ReadError('invalid_query', "Query parameter 'agent_id' is not an agent id (base58 public key).");
        const body = parseJsonObject(call.body, 'invalid_settings');
        if (body instanceof ReadError) return body;
        const update = parseSettingsUpdate(body);
        if (update instanceof ReadError) return update;
        const s = await writeSettings(d.pool, keyOf(call.principal).tenantId, agentId, update, d.defaults);
        if (s instanceof ReadError) return s;
        d.onAgentChanged(agentId);
        return ok(s);
      },
    },
    {
      method: 'post',
      pattern: '/v1/link/init',
      query: [],
      need: { scope: null, agentMayCall: true },
      maxBody: SMALL_BODY,
      async handle(call) {
        if (call.principal.kind !== 'agent') return new ReadError('forbidden');
        const body = parseJsonObject(call.body, 'invalid_request');
        if (body instanceof ReadError) return body;
        const extra = onlyKeys(body, ['name'], 'invalid_request');
        if (extra !== null) return extra;
        const name = parseName(body, 'invalid_request');
        if (name instanceof ReadError) return name;
        return ok(await initLink(d.pool, call.principal.agentId, name), 201);
      },
    },
    {
      method: 'post',
      pattern: '/v1/link/confirm',
      query: [],
      need: { scope: 'admin', agentMayCall: false },
      maxBody: SMALL_BODY,
      async handle(call) {
        const key = keyOf(call.principal);
        if (!d.confirmLimiter.take(key.keyId, call.nowMs)) {
          return new ReadError('rate_limited', 'Too many link confirmations with this key.', d.confirmLimiter.retryAfterSeconds(key.keyId));
        }
        const body = parseJsonObject(call.body, 'invalid_request');
        if (body instanceof ReadError) return body;
        const extra = onlyKeys(body, ['code', 'name'], 'invalid_request');
        if (extra !== null) return extra;
        const name = parseName(body, 'invalid_request');
        if (name instanceof ReadError) return name;
        const linked = await confirmLink(d.pool, key.tenantId, body.code, name);
        if (linked instanceof ReadError) return linked;
        d.onAgentChanged(linked.agent_id);
        return ok(linked);
      },
    },
    {
      method: 'del',
      pattern: '/v1/agents/:agent_id/link',
      query: [],
      need: { scope: 'admin', agentMayCall: false },
      async handle(call) {
        const agentId = call.pathParams[0] ?? '';
        if (!isAgentId(agentId)) return AGENT_NOT_FOUND;
        const out = await unlinkAgent(d.pool, keyOf(call.principal).tenantId, agentId);
        if (out !== null) return out;
        d.onAgentChanged(agentId);
        return { status: 204, body: null };
      },
    },
    {
      method: 'get',
      pattern: '/v1/gateway/metrics',
      query: ['gateway_id', ...WINDOW_PARAMS],
      need: { scope: 'read', agentMayCall: false },
      async handle(call) {
        const gatewayId = parseGatewayId(call.query);
        if (gatewayId instanceof ReadError) return gatewayId;
        const w = bucketed(call);
        if (w instanceof ReadError) return w;
        // Gateway rows are keyed by the tenant whose key sent them: a key sees only its own.
        return ok(await gatewayMetrics(d.pool, keyOf(call.principal).tenantId, gatewayId, w));
      },
    },
    {
      method: 'get',
      pattern: '/v1/agents',
      query: ['cursor', 'limit'],
      need: { scope: 'read', agentMayCall: false },
      async handle(call) {
        const limit = parseLimit(call.query);
        if (limit instanceof ReadError) return limit;
        const page = await listAgents(d.pool, keyOf(call.principal).tenantId, call.query.get('cursor'), limit);
        return page instanceof ReadError ? page : ok(page);
      },
    },
  ];
}
