/**
 * The shapes of the read API's answers the console uses (docs/read-api.md §2, §3, §4, §5):
 * the protocol module's wire shapes (type-only, so nothing of it reaches the bundle), plus
 * the fields of an alert the console shows.
 */
export type {
  AgentMetrics,
  AgentSummary,
  AgentVendors,
  BalancePoint,
  BalanceSeries,
  BalanceSnapshot,
  ChartPoint,
  HistoryRow,
  LinkedAgent,
  Page,
  StreamToken,
  VendorFigures,
} from '../../protocol/index.js';

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

export type Range = '1h' | '24h' | '7d' | '30d';
export const RANGES: readonly Range[] = ['1h', '24h', '7d', '30d'];
