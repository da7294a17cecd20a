/**
 * The answers of the read API on the wire (docs/read-api.md §2, §3, §4, §5), shared by the
 * receiver that builds them, the SDK and the console that read them. Amounts are decimal
 * strings (exact int64 values or sums of them), times RFC 3339 UTC strings, latencies
 * milliseconds. Types only.
 */

/** The latest telemetry snapshot of an agent. */
export interface BalanceSnapshot {
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
  at: string;
}

/** One snapshot of a balance series. */
export interface BalancePoint {
  time: string;
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
}

/** GET /v1/agent/balances. */
export interface BalanceSeries {
  agent_id: string;
  from: string;
  to: string;
  points: BalancePoint[];
}

/** One bucket of a metrics chart. */
export interface ChartPoint {
  bucket: string;
  requests: number;
  failed_requests: number;
  spend_atomic: string;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
}

/** The window's totals and its chart, shared by agent and gateway metrics. */
export interface WindowFigures {
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  success_rate: number | null;
  total_spend_atomic: string;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
  chart_data: ChartPoint[];
}

/** GET /v1/agent/metrics. */
export interface AgentMetrics extends WindowFigures {
  agent_id: string;
  from: string;
  to: string;
  complete_through: string;
  balance: BalanceSnapshot | null;
  burn_rate_atomic_per_hour: string;
  runway_hours: number | null;
}

/** Requests by class of the gateway's HTTP status; 1xx answers are the rest of the requests. */
export interface StatusClasses {
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

/** One bucket of the gateway metrics' chart: the agent chart's figures and the gateway's own. */
export interface GatewayChartPoint extends ChartPoint {
  status_classes: StatusClasses;
  payments_verified: number;
}

/** GET /v1/gateway/metrics. */
export interface GatewayMetrics extends WindowFigures {
  gateway_id: string;
  from: string;
  to: string;
  complete_through: string;
  status_classes: StatusClasses;
  /** Requests whose payment the gateway verified (payment_verified true). */
  payments_verified: number;
  chart_data: GatewayChartPoint[];
}

/** One vendor's figures in GET /v1/agent/vendors. */
export interface VendorFigures {
  vendor_id: string;
  request_count: number;
  successful_requests: number;
  failed_requests: number;
  success_rate: number | null;
  spend_atomic: string;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
}

/** GET /v1/agent/vendors. */
export interface AgentVendors {
  agent_id: string;
  from: string;
  to: string;
  complete_through: string;
  vendors: VendorFigures[];
}

/** One stored interaction in GET /v1/agent/history. */
export interface HistoryRow {
  time: string;
  vendor_id: string;
  nonce: string;
  amount_atomic: string | null;
  token_mint: string | null;
  request_url: string | null;
  request_method: string | null;
  success: boolean;
  latency_ms: number;
  error_type: string | null;
  error_message: string | null;
  signature: string | null;
}

/** A keyset page; `next_cursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** One agent of GET /v1/agents. */
export interface AgentSummary {
  agent_id: string;
  name: string | null;
  status: string;
  linked_at: string | null;
  first_seen_at: string;
  last_seen_at: string;
  balance: BalanceSnapshot | null;
}

/** The alert settings as the API shows them: effective values, amounts as decimal strings. */
export interface AlertSettings {
  agent_id: string;
  low_balance_threshold_atomic: string;
  runway_alert_hours: number;
  daily_spend_limit_atomic: string;
  error_rate_threshold: number;
  error_rate_min_requests: number;
  alerts_enabled: boolean;
  /** The fields that follow the receiver's configured defaults. */
  defaults: string[];
}

/** POST /v1/link/init. */
export interface LinkCode {
  /** Eight Crockford base32 symbols shown as `ABCD-EFGH`: give it to the tenant admin. */
  code: string;
  expires_at: string;
}

/** An agent linked to a tenant. */
export interface LinkedAgent {
  agent_id: string;
  tenant_id: string;
  name: string | null;
  linked_at: string;
}

/** POST /v1/stream/tokens. */
export interface StreamToken {
  token: string;
  expires_at: string;
}
