/**
 * The answers of the read API (docs/read-api.md §2, §3, §5) as an agent reading its own
 * data receives them. Amounts are decimal strings (exact int64 values or sums of them),
 * times RFC 3339 UTC strings, latencies milliseconds.
 */

/** `range` (ending now) or `from` [and `to`, default now]; none means the last 24 hours. */
export type ReadWindow = { readonly range: '1h' | '24h' | '7d' | '30d' } | { readonly from: Date | string; readonly to?: Date | string };

export interface BalanceSnapshot {
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
  at: string;
}

export interface ChartPoint {
  bucket: string;
  requests: number;
  failed_requests: number;
  spend_atomic: string;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
}

export interface AgentMetrics {
  agent_id: string;
  from: string;
  to: string;
  complete_through: string;
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  success_rate: number | null;
  total_spend_atomic: string;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p99_latency_ms: number | null;
  balance: BalanceSnapshot | null;
  burn_rate_atomic_per_hour: string;
  runway_hours: number | null;
  chart_data: ChartPoint[];
}

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

export interface AgentVendors {
  agent_id: string;
  from: string;
  to: string;
  complete_through: string;
  vendors: VendorFigures[];
}

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

export interface HistoryPage {
  data: HistoryRow[];
  /** Pass to the next getHistory call; null on the last page. */
  next_cursor: string | null;
}

export interface HistoryQuery {
  /** Without a window the whole history is paged. */
  window?: ReadWindow;
  cursor?: string;
  /** 1 to 500; the receiver's default is 50. */
  limit?: number;
  vendorId?: string;
  success?: boolean;
}

export interface BalancePoint {
  time: string;
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
}

export interface BalanceSeries {
  agent_id: string;
  from: string;
  to: string;
  points: BalancePoint[];
}

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

export interface LinkCode {
  /** Eight Crockford base32 symbols shown as `ABCD-EFGH`: give it to the tenant admin. */
  code: string;
  expires_at: string;
}
