/**
 * The read API (docs/read-api.md): who may read what, agent linking, metrics, vendors,
 * history, balances and alert settings, answered from the exact rollups and the raw rows.
 */
import type pg from 'pg';
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../logger.js';
import { RateLimiter } from '../server/index.js';
import { DEFAULT_ALERT_SETTINGS, type AlertDefaults } from './alert-settings.js';
import { readEndpoints } from './endpoints.js';
import { attachEndpoint, attachMethodNotAllowed } from './read-route.js';
import { DEFAULT_RETENTION } from '../retention/index.js';
import { ScopedKeyCache } from './scoped-key-cache.js';
import type { RollupRetention } from './window.js';

export interface ReadApiDeps {
  /** Queries run on it; a separate pool from the COPY connections keeps reads from queueing behind ingest. */
  pool: pg.Pool;
  log: Logger;
  /** Alert settings an agent has not set itself (§5); default DEFAULT_ALERT_SETTINGS. */
  defaults?: AlertDefaults;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  /** The agent signature's clock window, as for ingest; default 300 s. */
  timestampWindowMs?: number;
  /** How long an API key lookup is reused (a revocation takes effect for reads within it); default 5 s. */
  keyCacheTtlMs?: number;
  /** Link confirmations per API key: `perMinute` refilled, `burst` at once; default 10 and 10. */
  confirmRate?: { perMinute: number; burst: number };
  /**
   * Called after a settings change, a link confirmation or an unlink has committed, with the
   * agent's id (the alert evaluator re-reads the agent). A throw is logged, never answered.
   */
  onAgentChanged?: (agentId: string) => void;
  /** What the rollup tables keep (docs/read-api.md §7); default DEFAULT_RETENTION's. */
  retention?: RollupRetention;
}

export interface ReadRoutes {
  /** Every (method, path pattern) registered, for the API description and its test. */
  routes: readonly { method: 'get' | 'post' | 'put' | 'delete'; pattern: string }[];
}

/** Adds the read endpoints to `app` (register them before any catch-all route). */
export function registerReadRoutes(app: TemplatedApp, deps: ReadApiDeps): ReadRoutes {
  const clock = deps.clock ?? Date.now;
  const log = deps.log.child({ component: 'read-api' });
  const rate = deps.confirmRate ?? { perMinute: 10, burst: 10 };
  const endpoints = readEndpoints({
    pool: deps.pool,
    defaults: deps.defaults ?? DEFAULT_ALERT_SETTINGS,
    confirmLimiter: new RateLimiter(rate.perMinute / 60, rate.burst),
    retention: deps.retention ?? DEFAULT_RETENTION,
    onAgentChanged: (agentId) => {
      try {
        deps.onAgentChanged?.(agentId);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'onAgentChanged failed');
      }
    },
  });
  const ctx = {
    keys: new ScopedKeyCache(deps.pool, deps.keyCacheTtlMs ?? 5000, 10_000, clock),
    clock,
    timestampWindowMs: deps.timestampWindowMs ?? 300_000,
    log,
  };
  const methods = new Map<string, string[]>();
  for (const ep of endpoints) {
    attachEndpoint(app, ep, ctx);
    methods.set(ep.pattern, [...(methods.get(ep.pattern) ?? []), ep.method]);
  }
  for (const [pattern, m] of methods) attachMethodNotAllowed(app, pattern, m);
  return { routes: endpoints.map((e) => ({ method: e.method === 'del' ? 'delete' : e.method, pattern: e.pattern })) };
}

export { DEFAULT_ALERT_SETTINGS, type AlertDefaults } from './alert-settings.js';
export { agentMetrics } from './agent-metrics.js';
export { gatewayMetrics } from './gateway-metrics.js';
export { agentVendors } from './agent-vendors.js';
export { agentHistory } from './agent-history.js';
export { balancePoints } from './balances.js';
export { listAgents } from './agents-list.js';
export { confirmLink, initLink, unlinkAgent, unlinkAgentAsOperator } from './linking.js';
// The answers' wire shapes live with the protocol, where the SDK and the console read them too.
export type {
  AgentMetrics,
  AgentSummary,
  AgentVendors,
  AlertSettings,
  BalancePoint,
  BalanceSnapshot,
  ChartPoint,
  GatewayMetrics,
  HistoryRow,
  LinkedAgent,
  VendorFigures,
  WindowFigures,
} from '../protocol/index.js';
export { normalizeLinkCode } from './link-code.js';
export { bucketWindow, checkRetained, parseWindow, type BucketedWindow, type RequestedWindow, type RollupRetention } from './window.js';

// The read API's building blocks, for the other read-side components (alerts, the stream,
// the receiver's webhook authentication): one authentication, one set of query checks and one
// error shape across every read endpoint.
export { attachEndpoint, attachMethodNotAllowed, type Call, type ReadEndpoint, type Reply } from './read-route.js';
export { authenticate, authorize, type Credentials, type Principal, type Requirement } from './principal.js';
export { hasScope, ScopedKeyCache, type Scope, type ScopedKey } from './scoped-key-cache.js';
export { isLinkedTo, resolveAgent } from './agent-access.js';
export { isAgentId, MAX_LIMIT, parseLimit, parseQuery, type QueryParams } from './query-params.js';
export { ReadError, sendReadError } from './read-errors.js';
export { sendJson } from './http-reply.js';
export { decodeCursor, encodeCursor, MICROS_TIME } from './cursor.js';
export { apiTime, utcMicros } from './times.js';
export { bucketTalliesSql, spendSinceSql, tallyParams, type Tally, type TallyScope } from './rollup-tallies.js';
export { runwayHours } from './agent-metrics.js';
