import { Counter, Gauge, type Registry } from 'prom-client';
import type { HubStats } from './stream-hub.js';

/** What /metrics shows of the stream: the hub's figures, the NOTIFYs sent, the capture switch. */
export interface StreamStats extends HubStats {
  notifies: number;
  /** Transaction ids are being captured (some receiver has, or recently had, subscribers). */
  capturing: boolean;
}

/**
 * The stream's metrics, with stable names and no labels. They are read from the stream when
 * /metrics is scraped (`stats`, null before the stream's routes exist), so nothing is counted
 * per event on the delivery path.
 */
export function registerStreamMetrics(registry: Registry, stats: () => StreamStats | null): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: StreamStats) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        this.set(s === null ? 0 : value(s));
      },
    });
  };
  const counter = (name: string, help: string, value: (s: StreamStats) => number): void => {
    let last = 0;
    new Counter({
      name,
      help,
      registers,
      collect() {
        const total = stats() === null ? last : value(stats() as StreamStats);
        this.inc(Math.max(0, total - last));
        last = Math.max(last, total);
      },
    });
  };
  gauge('machpay_stream_subscribers', 'Open event streams on this receiver.', (s) => s.subscribers);
  counter('machpay_stream_events_sent_total', 'Events written to subscribers (one per subscriber), live and catch-up.', (s) => s.delivered);
  counter('machpay_stream_resets_total', 'Subscribers sent a `reset` and closed because they could not keep up.', (s) => s.resets);
  counter('machpay_stream_log_reads_total', 'Reads of the stream log by this receiver.', (s) => s.reads);
  counter('machpay_stream_notifies_total', 'NOTIFYs sent to wake other receivers (only while one of them has subscribers).', (s) => s.notifies);
  gauge('machpay_stream_queued_bytes', 'Event bytes waiting in subscribers\u2019 queues for their sockets, summed.', (s) => s.queuedBytes);
  gauge('machpay_stream_fullest_queue_ratio', 'The fullest subscriber queue as a share of its bound (1: that subscriber is reset).', (s) => s.fullestQueue);
  gauge('machpay_stream_read_lag_seconds', 'Time since the last read of the log ended, while the stream runs (a stuck reader grows it).', (s) => s.sinceLastReadMs / 1000);
  gauge(
    'machpay_stream_horizon_lag_transactions',
    'Transaction ids between the oldest running transaction and the newest: a long transaction holds the stream back by this many.',
    (s) => s.lagXids,
  );
  gauge('machpay_stream_capture_on', '1 while transaction ids are captured for the stream (some receiver has or recently had subscribers).', (s) =>
    s.capturing ? 1 : 0,
  );
}
