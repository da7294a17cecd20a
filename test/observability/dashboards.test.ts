import { beforeAll, describe, expect, it } from 'vitest';
import { datasourceRef, datasourceVariableName, isObject, loadDashboards, loadProvisionedDatasources, queriesOf, resolveDatasource, type Dashboard, type ProvisionedDatasource } from './dashboard-files.js';
import { dialectOf, renderQuery, type QueryContext } from './grafana-interpolation.js';
import { metricNamesIn } from './promql-names.js';

/**
 * (c) The dashboard files are what Grafana needs: valid JSON, a uid and title, panels with a
 * layout, and every datasource reference naming the dashboard's datasource variable, whose
 * default is a provisioned datasource of the same type (so the files both provision as they
 * are and import into another Grafana). Runs without services; the queries themselves are run by prometheus.test.ts and
 * sql-panels.test.ts.
 */

let dashboards: Dashboard[];
let datasources: Map<string, ProvisionedDatasource>;
beforeAll(async () => {
  dashboards = await loadDashboards();
  datasources = await loadProvisionedDatasources();
});

function byUid(uid: string): Dashboard {
  const d = dashboards.find((x) => x.json.uid === uid);
  if (d === undefined) throw new Error(`no dashboard with uid ${uid}`);
  return d;
}

describe('provisioned datasources', () => {
  it('provisions Prometheus, PostgreSQL and ClickHouse (through its plugin) with fixed uids', () => {
    const types = new Map([...datasources.values()].map((d) => [d.uid, d.type]));
    expect(types).toEqual(
      new Map([
        ['machpay-prometheus', 'prometheus'],
        ['machpay-postgres', 'grafana-postgresql-datasource'],
        ['machpay-clickhouse', 'grafana-clickhouse-datasource'],
      ]),
    );
    for (const ds of datasources.values()) {
      // Secrets only in secureJsonData, and taken from the environment, never written here.
      expect(JSON.stringify(ds.raw.jsonData ?? {})).not.toMatch(/password/i);
      const secure = ds.raw.secureJsonData;
      if (isObject(secure)) for (const v of Object.values(secure)) expect(String(v)).toMatch(/^\$\{?[A-Z_]+\}?$/);
    }
  });
});

describe('dashboard files', () => {
  it('are the three dashboards, each with a unique uid and title', () => {
    expect(dashboards.map((d) => d.file)).toEqual(['agent-wallets.json', 'payments-by-vendor.json', 'receiver-health.json']);
    const uids = dashboards.map((d) => d.json.uid);
    const titles = dashboards.map((d) => d.json.title);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(titles).size).toBe(titles.length);
    for (const d of dashboards) {
      expect(d.json.uid, d.file).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(typeof d.json.title === 'string' && d.json.title !== '', d.file).toBe(true);
      expect(d.json.schemaVersion, d.file).toBeTypeOf('number');
      // Provisioned from files: no database id, or Grafana would try to update another dashboard.
      expect(d.json.id ?? null, d.file).toBeNull();
      expect(isObject(d.json.time) && typeof d.json.time.from === 'string', d.file).toBe(true);
      expect(d.panels.length, d.file).toBeGreaterThan(5);
    }
  });

  it('lay out every panel on the 24-column grid, with unique ids, without overlaps', () => {
    for (const d of dashboards) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, `${d.file}: duplicate panel ids`).toBe(ids.length);
      const titles = d.panels.map((p) => p.title);
      expect(titles.filter((t, i) => titles.indexOf(t) !== i), `${d.file}: panel titles used twice`).toEqual([]);
      const cells = new Set<string>();
      for (const p of d.panels) {
        const where = `${d.file} › ${String(p.title)}`;
        expect(typeof p.type === 'string' && typeof p.title === 'string', where).toBe(true);
        const g = p.gridPos;
        if (!isObject(g)) throw new Error(`${where}: no gridPos`);
        const [x, y, w, h] = [g.x, g.y, g.w, g.h].map(Number) as [number, number, number, number];
        expect([x, y, w, h].every(Number.isInteger) && w > 0 && h > 0 && x >= 0 && x + w <= 24, where).toBe(true);
        for (let i = x; i < x + w; i++) {
          for (let j = y; j < y + h; j++) {
            const cell = `${i},${j}`;
            expect(cells.has(cell), `${where} overlaps another panel at ${cell}`).toBe(false);
            cells.add(cell);
          }
        }
      }
    }
  });

  it('name their datasource through one datasource variable each, whose default is the provisioned one', () => {
    for (const d of dashboards) {
      const vars = d.variables.filter((v) => v.type === 'datasource');
      expect(vars.length, `${d.file}: datasource variables`).toBe(1);
      const v = vars[0] as (typeof vars)[number];
      const current = isObject(v.current) ? v.current.value : undefined;
      const ds = typeof current === 'string' ? datasources.get(current) : undefined;
      if (ds === undefined) throw new Error(`${d.file} › variable ${String(v.name)}: current value ${String(current)} is not a provisioned datasource`);
      expect(v.query, `${d.file} › variable ${String(v.name)}: type listed`).toBe(ds.type);
      // Imported into another Grafana, the variable falls back to a datasource of that type there.
      expect(v.hide ?? 0, `${d.file}: the datasource picker is shown`).toBe(0);
    }
  });

  it('point every panel, target and variable at a datasource variable (importable elsewhere) resolving to a provisioned datasource of the right type', () => {
    const check = (ref: unknown, where: string, d: Dashboard): void => {
      const raw = datasourceRef(ref);
      if (raw === null) throw new Error(`${where}: datasource must be {type, uid}, got ${JSON.stringify(ref)}`);
      if (datasourceVariableName(raw.uid) === null) throw new Error(`${where}: fixed datasource uid ${raw.uid}; use the dashboard's datasource variable so the JSON imports into any Grafana`);
      const r = resolveDatasource(raw, d, where);
      const ds = datasources.get(r.uid);
      if (ds === undefined) throw new Error(`${where}: datasource uid ${r.uid} is not provisioned (${[...datasources.keys()].join(', ')})`);
      expect(r.type, `${where}: type of ${r.uid}`).toBe(ds.type);
    };
    for (const d of dashboards) {
      for (const p of d.panels) {
        if (p.type === 'row') continue;
        const where = `${d.file} › ${String(p.title)}`;
        check(p.datasource, where, d);
        const targets = Array.isArray(p.targets) ? p.targets.filter(isObject) : [];
        expect(targets.length, `${where}: no targets`).toBeGreaterThan(0);
        const refIds = targets.map((t) => t.refId);
        expect(new Set(refIds).size, `${where}: duplicate refIds`).toBe(refIds.length);
        for (const t of targets) check(t.datasource, `${where} › ${String(t.refId)}`, d);
      }
      for (const v of d.variables) if (v.type === 'query') check(v.datasource, `${d.file} › variable ${String(v.name)}`, d);
    }
  });

  it('use one datasource each, as their titles say', () => {
    const uidsOf = (d: Dashboard) => new Set(queriesOf(d).map((q) => q.datasource.uid));
    expect(uidsOf(byUid('machpay-receiver-health'))).toEqual(new Set(['machpay-prometheus']));
    expect(uidsOf(byUid('machpay-payments'))).toEqual(new Set(['machpay-clickhouse']));
    expect(uidsOf(byUid('machpay-agent-wallets'))).toEqual(new Set(['machpay-postgres']));
  });

  it('use only variables they define (every query renders with all variables and macros replaced)', () => {
    const ctx = (d: Dashboard): QueryContext => ({
      values: Object.fromEntries(d.variables.map((v) => [String(v.name), v.multi === true ? ['a', 'b'] : 'x'])),
      from: new Date(Date.now() - 3_600_000),
      to: new Date(),
      intervalSeconds: 60,
    });
    let rendered = 0;
    for (const d of dashboards) {
      for (const q of queriesOf(d)) {
        // Prometheus variable queries are Grafana's label_values(), not PromQL: still rendered.
        renderQuery(q.text, d.variables, ctx(d), dialectOf(q.datasource.type), q.where);
        rendered++;
      }
    }
    expect(rendered).toBeGreaterThan(60);
  });
});

describe('receiver health dashboard', () => {
  it('shows what the issue asks for', () => {
    const names = new Set(queriesOf(byUid('machpay-receiver-health')).flatMap((q) => metricNamesIn(q.text)));
    for (const required of [
      'machpay_http_requests_total',
      'machpay_events_total',
      'machpay_ack_latency_seconds_bucket',
      'machpay_ring_used_bytes',
      'machpay_ring_capacity_bytes',
      'machpay_worker_utilization_ratio',
      'machpay_worker_queue_requests',
      'machpay_copy_rows_total',
      'machpay_copy_batch_duration_seconds_bucket',
      'machpay_copy_pending_rows',
      'machpay_postgres_up',
      'machpay_clickhouse_up',
      'machpay_rollup_rows_written_total',
      'machpay_rollup_flush_lag_seconds',
      'machpay_rollup_flush_failures_total',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(names, required).toContain(required);
    }
  });

  it('computes quantiles from histogram buckets only, by le', () => {
    for (const q of queriesOf(byUid('machpay-receiver-health'))) {
      if (!q.text.includes('histogram_quantile')) continue;
      expect(q.text, q.where).toMatch(/histogram_quantile\(0\.\d+, sum by \(le(, \w+)*\) \(rate\(\w+_bucket\{/);
    }
  });
});

describe('payments dashboard (ClickHouse)', () => {
  it('reads rollup_minute with FINAL and never a stored percentile column (percentiles of deltas are not percentiles)', () => {
    const queries = queriesOf(byUid('machpay-payments'));
    for (const q of queries) {
      for (const from of q.text.matchAll(/FROM\s+rollup_minute\b(\s+FINAL)?/g)) {
        if (q.panelType !== 'variable') expect(from[1], `${q.where}: FROM rollup_minute without FINAL`).toBeDefined();
      }
      expect(q.text, q.where).not.toMatch(/latency_p(50|90|99)_ms/);
    }
  });

  it('uses no ClickHouse syntax that 18.16 lacks', () => {
    for (const q of queriesOf(byUid('machpay-payments'))) {
      // $__timeInterval and $__timeGroup expand to toStartOfInterval, which 18.16 does not have.
      expect(q.text, q.where).not.toMatch(/\$__timeInterval|\$__timeGroup|toStartOfInterval|DateTime64|\bQUALIFY\b|\bWITH FILL\b/);
    }
  });
});

describe('metricNamesIn (the PromQL name finder the metric checks rely on)', () => {
  it('finds metric names and skips functions, labels, ranges, grouping labels, numbers and variables', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le, endpoint) (rate(machpay_ack_latency_seconds_bucket{job="$job", instance=~"$instance"}[$__rate_interval])))')).toEqual([
      'machpay_ack_latency_seconds_bucket',
    ]);
    expect(metricNamesIn('machpay_ring_used_bytes{job="a"} / machpay_ring_capacity_bytes{job="a"}').sort()).toEqual(['machpay_ring_capacity_bytes', 'machpay_ring_used_bytes']);
    expect(metricNamesIn('min(up{job="machpay"}) == 1')).toEqual(['up']);
    expect(metricNamesIn('sum(rate(a_total[5m])) by (code) / ignoring(code) group_left sum(rate(b_total[5m])) * 1e3')).toEqual(['a_total', 'b_total']);
    expect(metricNamesIn('rate(x_total[1m] offset 5m) > bool 0.5 and on (instance) y')).toEqual(['x_total', 'y']);
    expect(metricNamesIn('sum by (outcome) (rate(machpay_events_total{outcome!="accepted", job="by (x)"}[1m]))')).toEqual(['machpay_events_total']);
  });
});
