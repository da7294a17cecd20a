/** The shapes of the read API's answers the console uses (docs/read-api.md §2, §3, §4, §5). */

export interface BalanceSnapshot {
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
  at: string;
}

export interface AgentSummary {
  agent_id: string;
  name: string | null;
  status: string;
  linked_at: string | null;
  first_seen_at: string | null;
  last_seen_at: string | null;
  balance: BalanceSnapshot | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
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
  vendors: VendorFigures[];
}

export interface HistoryRow {
  time: string;
  vendor_id: string;
  nonce: string;
  amount_atomic: string;
  token_mint: string | null;
  request_url: string | null;
  request_method: string | null;
  success: boolean;
  latency_ms: number | null;
  error_type: string | null;
  error_message: string | null;
  signature: string | null;
}

export interface BalancePoint {
  time: string;
  usdc_balance_atomic: string | null;
  sol_balance_lamports: string | null;
}

export interface BalanceSeries {
  points: BalancePoint[];
}

export interface Alert {
  id: string;
  agent_id: string;
  type: string;
  severity: 'info' | 'warning' | 'critical';
  state: 'firing' | 'resolved';
  message: string;
  fired_at: string;
  resolved_at: string | null;
  acknowledged_at: string | null;
}

export interface LinkedAgent {
  agent_id: string;
  tenant_id: string;
  name: string | null;
  linked_at: string;
}

export interface StreamToken {
  token: string;
  expires_at: string;
}

export type Range = '1h' | '24h' | '7d' | '30d';
export const RANGES: readonly Range[] = ['1h', '24h', '7d', '30d'];
