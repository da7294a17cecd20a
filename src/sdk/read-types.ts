/**
 * The answers of the read API (docs/read-api.md §2, §3, §5) as an agent reading its own
 * data receives them: the wire shapes of the protocol module, plus the SDK's own query
 * options. Amounts are decimal strings (exact int64 values or sums of them), times RFC 3339
 * UTC strings, latencies milliseconds.
 */
import type { HistoryRow, Page } from '../protocol/index.js';

export type {
  AgentMetrics,
  AgentVendors,
  AlertSettings,
  BalancePoint,
  BalanceSeries,
  BalanceSnapshot,
  ChartPoint,
  HistoryRow,
  LinkCode,
  VendorFigures,
} from '../protocol/index.js';

/** `range` (ending now) or `from` [and `to`, default now]; none means the last 24 hours. */
export type ReadWindow = { readonly range: '1h' | '24h' | '7d' | '30d' } | { readonly from: Date | string; readonly to?: Date | string };

/** A page of history; pass `next_cursor` to the next getHistory call (null on the last page). */
export type HistoryPage = Page<HistoryRow>;

export interface HistoryQuery {
  /** Without a window the whole history is paged. */
  window?: ReadWindow;
  cursor?: string;
  /** 1 to 500; the receiver's default is 50. */
  limit?: number;
  vendorId?: string;
  success?: boolean;
}
