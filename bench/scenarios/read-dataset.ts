/**
 * The `read` scenario's history, written straight into the tables by SQL (generate_series),
 * not through ingest, so that 30 days of data build in minutes: raw interactions in their
 * monthly partitions, hourly telemetry snapshots, and the minute (last 7 days: their
 * retention), hourly and daily rollups aggregated from those raw rows. Counts, spend and
 * latency sums of the rollups equal the raw rows; the latency histograms are real HDR
 * encodings of 1 to 8 values taken from a fixed set (SQL cannot build one), so a read decodes
 * and merges histograms of the size a sparse agent-hour has.
 */
import pg from 'pg';
import { ensureMonthlyPartitions } from '../../src/database/index.js';
import { encodeHistogram, HIGHEST_LATENCY_MS, newMergeHistogram } from '../../src/rollups/index.js';

export interface ReadDatasetSize {
  agents: number;
  interactions: number;
  days: number;
  vendorsPerAgent: number;
}

export const READ_TENANT = 'bench-read';

/** Agent ids of the data set: valid base58 ids (32 characters, no 0 O I l). */
export function readAgentId(i: number): string {
  return `BenchReadAgentxxxxxxxxxx${String(i).padStart(8, '0').replaceAll('0', 'z')}`;
}

const AGENT_ID_SQL = (n: string) => `'BenchReadAgentxxxxxxxxxx' || translate(lpad((${n})::text, 8, '0'), '0', 'z')`;

/** Histograms of k = 1..8 latencies (20 to 400 ms), index k - 1. */
function histogramVariants(): string[] {
  const out: string[] = [];
  for (let k = 1; k <= 8; k++) {
    const h = newMergeHistogram();
    for (let i = 0; i < k; i++) h.recordValue(Math.min(HIGHEST_LATENCY_MS, 20 + ((i * 97 + k * 31) % 380)));
    out.push(encodeHistogram(h));
  }
  return out;
}

const HIST = (count: string) => `($1::text[])[least(${count}, 8)]`;

/** Builds the data set; returns the seconds each step took. */
export async function buildReadDataset(url: string, size: ReadDatasetSize, nowMs: number, say: (line: string) => void): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url, statement_timeout: 0 });
  await client.connect();
  const took: Record<string, number> = {};
  const step = async (name: string, sql: string, params: unknown[] = []): Promise<void> => {
    const t0 = performance.now();
    const r = await client.query(sql, params);
    took[name] = Math.round((performance.now() - t0) / 100) / 10;
    say(`    ${name}: ${r.rowCount ?? 0} rows in ${took[name]} s`);
  };
  try {
    for (let d = 0; d <= size.days + 31; d += 28) await ensureMonthlyPartitions(client, new Date(nowMs - d * 86_400_000));
    const now = new Date(nowMs).toISOString();
    const hist = histogramVariants();
    await step(
      'agents',
      `INSERT INTO agents (pubkey, name, status, first_seen_at, last_seen_at, tenant_id, linked_at)
       SELECT ${AGENT_ID_SQL('a')}, 'bench ' || a, 'active', $1::timestamptz - interval '${size.days} days', $1::timestamptz, '${READ_TENANT}', $1::timestamptz
         FROM generate_series(1, ${size.agents}) a ON CONFLICT (pubkey) DO NOTHING`,
      [now],
    );
    // Interaction g belongs to agent 1 + g % agents, one of that agent's vendorsPerAgent vendors,
    // at a uniformly random time of the window; nonce g is unique per agent.
    await step(
      'agent_interactions',
      `INSERT INTO agent_interactions (time, agent_id, vendor_id, request_url, request_method, amount_atomic, token_mint, nonce, success,
                                       latency_ms, error_type, signature)
       SELECT $1::timestamptz - random() * interval '${size.days} days', ${AGENT_ID_SQL('1 + g % ' + size.agents)},
              'vendor-' || ((g % ${size.agents}) * 7 + (g / ${size.agents}) % ${size.vendorsPerAgent}) % 200,
              'https://api.example.com/v1/items', 'GET', 1000 + g % 9000, 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v', g,
              random() > 0.05, 20 + (random() * 380)::int, NULL, NULL
         FROM generate_series(1, ${size.interactions}) g`,
      [now],
    );
    await step(
      'agent_telemetry (hourly snapshots)',
      `INSERT INTO agent_telemetry (time, agent_id, sol_balance_lamports, usdc_balance_atomic, period_seconds)
       SELECT date_trunc('hour', $1::timestamptz) - h * interval '1 hour', ${AGENT_ID_SQL('a')}, 1000000000, 50000000 + h * 1000, 3600
         FROM generate_series(1, ${size.agents}) a, generate_series(0, ${size.days * 24 - 1}) h`,
      [now],
    );
    await step(
      'agent_stats_minute (7 days)',
      `INSERT INTO agent_stats_minute (agent_id, bucket, vendor_id, total_requests, successful_requests, failed_requests,
                                       total_spend_atomic, latency_sum_ms, max_latency_ms, latency_histogram)
       SELECT agent_id, date_trunc('minute', time), vendor_id, count(*), count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success),
              sum(amount_atomic), sum(latency_ms), max(latency_ms), ${HIST('count(*)::int')}
         FROM agent_interactions WHERE time >= $2::timestamptz - interval '7 days' AND agent_id LIKE 'BenchReadAgent%' GROUP BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
      [hist, now],
    );
    await step(
      'agent_stats_hourly',
      `INSERT INTO agent_stats_hourly (bucket, agent_id, total_requests, successful_requests, failed_requests, total_spend_atomic,
                                       latency_sum_ms, max_latency_ms, latency_histogram, vendor_breakdown)
       SELECT hour, agent_id, sum(n), sum(ok), sum(n - ok), sum(spend), sum(lat), max(mx), ${HIST('sum(n)::int')},
              jsonb_object_agg(vendor_id, jsonb_build_object('requests', n, 'successes', ok, 'failures', n - ok, 'spend_atomic', spend::text,
                               'latency_sum_ms', lat, 'avg_latency_ms', lat::float8 / n, 'p50_latency_ms', NULL, 'p90_latency_ms', NULL,
                               'p99_latency_ms', NULL, 'max_latency_ms', mx, 'latency_histogram', ${HIST('n::int')}))
         FROM (SELECT date_trunc('hour', time) AS hour, agent_id, vendor_id, count(*) AS n, count(*) FILTER (WHERE success) AS ok,
                      sum(amount_atomic) AS spend, sum(latency_ms) AS lat, max(latency_ms) AS mx
                 FROM agent_interactions WHERE agent_id LIKE 'BenchReadAgent%' GROUP BY 1, 2, 3) v
        GROUP BY hour, agent_id
       ON CONFLICT DO NOTHING`,
      [hist],
    );
    await step(
      'agent_stats_daily',
      `INSERT INTO agent_stats_daily (agent_id, bucket, vendor_id, total_requests, successful_requests, failed_requests,
                                      total_spend_atomic, latency_sum_ms, max_latency_ms, latency_histogram)
       SELECT agent_id, date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', vendor_id, count(*), count(*) FILTER (WHERE success),
              count(*) FILTER (WHERE NOT success), sum(amount_atomic), sum(latency_ms), max(latency_ms), ${HIST('count(*)::int')}
         FROM agent_interactions WHERE agent_id LIKE 'BenchReadAgent%' GROUP BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
      [hist],
    );
    await step('analyze', 'ANALYZE');
    // The rollups must count what the raw rows hold (a conflict above would have skipped some).
    const check = await client.query<{ raw: string; hourly: string; daily: string }>(
      `SELECT (SELECT count(*) FROM agent_interactions WHERE agent_id LIKE 'BenchReadAgent%')::text AS raw,
              (SELECT sum(total_requests) FROM agent_stats_hourly WHERE agent_id LIKE 'BenchReadAgent%')::text AS hourly,
              (SELECT sum(total_requests) FROM agent_stats_daily WHERE agent_id LIKE 'BenchReadAgent%')::text AS daily`,
    );
    const c = check.rows[0];
    if (c === undefined || c.raw !== c.hourly || c.raw !== c.daily) throw new Error(`read data set: rollups do not match the raw rows (${JSON.stringify(c)})`);
  } finally {
    await client.end();
  }
  return took;
}
