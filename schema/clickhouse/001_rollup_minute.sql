-- Per-minute rollups of accepted agent interactions and gateway requests (src/rollups).
-- Applied by the receiver at start when CLICKHOUSE_URL is set, in the URL's database; every
-- file here must stay idempotent (IF NOT EXISTS), as each is run on every start.
--
-- Works unchanged on ClickHouse 18.16 and current releases (the tests run both): MergeTree
-- family with the PARTITION BY / ORDER BY syntax, DateTime (not DateTime64), no TTL, no
-- LowCardinality, no Decimal (18.16's Decimal128 prints wrong digits), no Map type. The
-- receiver derives from it, in src/rollups/clickhouse-ddl.ts, the cluster form
-- (CLICKHOUSE_CLUSTER: rollup_minute_local on every shard and a Distributed rollup_minute,
-- sharded by entity_id, so every query here runs unchanged), the Replicated engine
-- (CLICKHOUSE_REPLICATED), on ClickHouse 20.3 or later LowCardinality strings and a TTL
-- (CLICKHOUSE_RETENTION_DAYS), and on 21.8 or later a UInt128 spend_atomic.
--
-- Columns: minute is the UTC start of the minute of the events' `time`; kind says whether
-- entity_id is an agent_id or a gateway_id; tenant_id is the API key's tenant for gateways and
-- '' for agents; row_id is unique per written row and the same on every retry of that row.
-- Histogram precision: lowest 1 ms, highest 3,600,000 ms (larger values count as 1 h; the
-- latency_max_ms column stays exact), 3 significant digits: exact below 2048 ms, else within
-- 1/1024 of the value.
--
-- Rows are DELTAS. A receiver writes one row per (kind, tenant, entity, vendor, minute) and
-- flush interval, holding what it recorded in that interval; an event that arrives after its
-- minute was written becomes one more row for the same key. Never read a row alone: sum the
-- counts and merge the histograms over every row of the keys and minutes you want.
--
-- Exact totals:
--   SELECT sum(requests), sum(successes), sum(failures), sum(spend_atomic)
--   FROM rollup_minute FINAL
--   WHERE kind = 'agent' AND entity_id = {agent} AND minute >= {from} AND minute < {to}
-- FINAL collapses the copies a retried insert may have left (same row_id) before a
-- background merge does; without it, totals are exact except in that rare window.
-- spend_atomic sums are exact below 2^64 (1.8e19 atomic units) in a table created by 18.16;
-- in one created by 21.8 or later the column is UInt128 and its sums stay exact.
--
-- p99 over a window, two ways:
--   1. Exact to the histogram's precision, in application code: merge the `latency_hdr` of the
--      rows (src/rollups mergeEncodedHistograms, or any HdrHistogram library: V2 compressed,
--      base64) and ask the merged histogram.
--   2. In SQL, the same buckets: latency_values are the upper bounds of the histogram's
--      non-empty buckets and latency_counts their counts, so
--        SELECT quantileExactWeighted(0.99)(v, c) FROM (
--          SELECT sumMap(latency_values, latency_counts) AS m FROM rollup_minute FINAL WHERE …)
--        ARRAY JOIN tupleElement(m, 1) AS v, tupleElement(m, 2) AS c
--      gives the histogram's value to within one bucket (1/1024 of the value; ClickHouse's rank
--      rule can pick the neighbouring bucket where HDR's nearest-rank would not).
-- The latency_p50/p90/p99/max_ms columns describe the row alone: fine for a single delta,
-- wrong for any window (percentiles of percentiles are not percentiles).
CREATE TABLE IF NOT EXISTS rollup_minute (
    minute          DateTime('UTC'),
    kind            Enum8('agent' = 1, 'gateway' = 2),
    tenant_id       String,
    entity_id       String,
    vendor_id       String,
    row_id          String,
    requests        UInt64,
    successes       UInt64,
    failures        UInt64,
    spend_atomic    UInt64,
    latency_sum_ms  UInt64,
    latency_p50_ms  UInt32,
    latency_p90_ms  UInt32,
    latency_p99_ms  UInt32,
    latency_max_ms  UInt32,
    latency_hdr     String,
    latency_values  Array(UInt32),
    latency_counts  Array(UInt64),
    receiver_id     String,
    flushed_at      DateTime('UTC')
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (kind, tenant_id, entity_id, vendor_id, minute, row_id)
