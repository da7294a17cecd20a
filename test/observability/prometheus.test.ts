import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { GRAFANA_DIR, REPO_ROOT, isObject, loadDashboards, queriesOf, type Dashboard } from './dashboard-files.js';
import { parseExposition, selectableSeriesNames, type MetricFamily } from './exposition.js';
import { renderQuery, type QueryContext } from './grafana-interpolation.js';
import { findBinary, startPrometheus, type RunningPrometheus } from './prometheus-server.js';
import { metricNamesIn } from './promql-names.js';
import { sendTraffic } from './traffic.js';
import { parseYamlFile } from './yaml-file.js';

/**
 * The receiver's /metrics against the real tools: (a) promtool's linter, (b) a real Prometheus
 * scraping it with grafana/prometheus.yml's scrape settings, and (d) every metric the health
 * dashboard's PromQL names exists in the output; every expression then runs on that Prometheus.
 */

/** Series Prometheus makes itself for every target; not in any /metrics output. */
const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);
const JOB = 'machpay';

/** The metric names a query selects; for Grafana's label_values(selector, label), those of its selector. */
function selectedNames(text: string): string[] {
  const labelValues = /^\s*label_values\((.+),\s*\w+\)\s*$/.exec(text);
  return metricNamesIn(labelValues === null ? text : (labelValues[1] as string));
}

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let rx: RunningReceiver;
let metricsText: string;
let families: Map<string, MetricFamily>;
let health: Dashboard;
let prom: (RunningPrometheus & { removeDir(): Promise<void> }) | null = null;

beforeAll(async () => {
  db = await createTestDatabase('observability_prometheus');
  ch = await createTestClickhouseDatabase('observability_prometheus');
  rx = await startReceiver({ DATABASE_URL: db.url, CLICKHOUSE_URL: ch.url, ROLLUP_FLUSH_MS: '200', LOG_LEVEL: 'warn' });
  await sendTraffic(rx.url, db.url);
  const res = await getOnce(`${rx.url}/metrics`, 5_000);
  expect(res.status).toBe(200);
  metricsText = res.body;
  families = parseExposition(metricsText);
  const found = (await loadDashboards()).find((d) => d.json.uid === 'machpay-receiver-health');
  if (found === undefined) throw new Error('grafana/dashboards has no machpay-receiver-health dashboard');
  health = found;
});

afterAll(async () => {
  await prom?.stop();
  await prom?.removeDir();
  await rx?.stop();
  await ch?.drop();
  await db?.drop();
});

function promtool(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(findBinary('promtool'), args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

describe('/metrics', () => {
  it('passes promtool check metrics', async () => {
    const r = await promtool(['check', 'metrics'], metricsText);
    const findings = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    expect(findings, 'promtool lint findings').toEqual([]);
    expect(r.code).toBe(0);
  });

  it('counts the traffic that was sent', () => {
    const sample = (name: string, labels: string) => new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} [1-9]`, 'm');
    expect(metricsText).toMatch(sample('machpay_http_requests_total', 'endpoint="agent",status="202"'));
    expect(metricsText).toMatch(sample('machpay_http_requests_total', 'endpoint="ingest",status="202"'));
    expect(metricsText).toMatch(sample('machpay_http_request_errors_total', 'code="invalid_api_key"'));
    expect(metricsText).toMatch(sample('machpay_events_total', 'outcome="invalid_event"'));
    expect(families.get('machpay_ack_latency_seconds')?.type).toBe('histogram');
    // The traffic has 202s and 4xx refusals on both endpoints.
    expect(metricsText).toMatch(sample('machpay_ack_latency_seconds_count', 'endpoint="agent",status_class="2xx"'));
    expect(metricsText).toMatch(sample('machpay_ack_latency_seconds_count', 'endpoint="agent",status_class="4xx"'));
    expect(metricsText).toMatch(sample('machpay_ack_latency_seconds_count', 'endpoint="ingest",status_class="2xx"'));
    expect(metricsText).toMatch(sample('machpay_http_received_bytes_total', 'endpoint="agent"'));
    expect(metricsText).toMatch(sample('machpay_http_received_bytes_total', 'endpoint="ingest"'));
  });

  it('names the build and the spool bound', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const build = new RegExp(`^machpay_build_info\\{version="${version.replace(/\./g, '\\.')}",node_version="${process.version.replace(/\./g, '\\.')}",commit="(unknown|[0-9a-f]{7,40})"\\} 1$`, 'm');
    expect(metricsText).toMatch(build);
    // SPOOL_MAX_BYTES' default (1 GiB): the receiver under test runs with a spool.
    expect(metricsText).toMatch(/^machpay_spool_capacity_bytes 1073741824$/m);
    expect(metricsText).toMatch(/^machpay_spool_bytes \d+$/m);
  });

  it('has every metric the receiver health dashboard queries (d)', () => {
    const exposed = selectableSeriesNames(families);
    const missing: string[] = [];
    for (const q of queriesOf(health)) {
      for (const name of selectedNames(q.text)) {
        if (!exposed.has(name) && !PROMETHEUS_SYNTHETIC.has(name)) missing.push(`${name} (${q.where})`);
      }
    }
    expect(missing, 'metric names in dashboard PromQL that /metrics does not export').toEqual([]);
  });

  it('has a panel for every machpay_ metric it exports', () => {
    const used = new Set(queriesOf(health).flatMap((q) => selectedNames(q.text)));
    const unshown = [...families.values()]
      .filter((f) => f.name.startsWith('machpay_'))
      .filter((f) => ![f.name, `${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].some((n) => used.has(n)))
      .map((f) => f.name);
    expect(unshown, 'machpay_ metrics no panel of receiver-health.json shows').toEqual([]);
  });
});

describe('a real Prometheus scraping the receiver (b)', () => {
  it('scrapes it with grafana/prometheus.yml and answers every dashboard expression', async () => {
    const config = await parseYamlFile(join(GRAFANA_DIR, 'prometheus.yml'));
    if (!isObject(config) || !Array.isArray(config.scrape_configs)) throw new Error('grafana/prometheus.yml has no scrape_configs');
    const job = config.scrape_configs.find((s) => isObject(s) && s.job_name === JOB);
    if (!isObject(job)) throw new Error(`grafana/prometheus.yml has no job ${JOB}`);
    // The file's own scrape job, pointed at this receiver and made fast; everything else as written.
    const testConfig = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ ...job, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${rx.port}`] }] }],
    };
    prom = await startPrometheus(testConfig);
    const p = prom;

    const deadline = Date.now() + 20_000;
    for (;;) {
      const up = await p.vector(`up{job="${JOB}"} == 1`);
      const samples = await p.vector(`count_over_time(machpay_http_requests_total{job="${JOB}"}[1m])`);
      const rollupsToClickhouse = await p.vector(`machpay_clickhouse_up{job="${JOB}"} == 1`);
      // Three scrapes: rate() over the dashboards' ranges needs two samples.
      if (up.length === 1 && rollupsToClickhouse.length === 1 && samples.some((s) => Number(s.value[1]) >= 3)) break;
      if (Date.now() > deadline) throw new Error(`Prometheus did not scrape the receiver (with ClickHouse up) within 20 s:\n${await p.logTail()}`);
      await sleep(250);
    }
    const [ready] = await p.vector(`machpay_ready{job="${JOB}"}`);
    expect(ready?.value[1]).toBe('1');

    // The dashboard's variable queries are Grafana's label_values(metric{…}, label).
    const instance = `127.0.0.1:${rx.port}`;
    for (const v of health.variables.filter((x) => x.type === 'query')) {
      const text = isObject(v.query) ? String(v.query.query) : String(v.query);
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(text.replace(/\$job/g, JOB));
      if (m === null) throw new Error(`variable ${String(v.name)}: expected label_values(selector, label), got ${text}`);
      const series = await p.vector(m[1] as string);
      const values = new Set(series.map((s) => s.metric[m[2] as string]));
      expect(values, `values of $${String(v.name)}`).toContain(v.name === 'job' ? JOB : instance);
    }

    const ctx = (instanceValue: string): QueryContext => ({
      values: { job: JOB, instance: instanceValue },
      from: new Date(Date.now() - 3_600_000),
      to: new Date(),
      intervalSeconds: 15,
      rateInterval: '1m',
    });
    const empty: string[] = [];
    for (const q of queriesOf(health)) {
      if (q.panelType === 'variable') continue;
      for (const choice of ['$__all', instance]) {
        const expr = renderQuery(q.text, health.variables, ctx(choice), 'prometheus', q.where);
        const r = await p.query(expr);
        if (r.status !== 'success') throw new Error(`${q.where}: Prometheus rejected\n  ${expr}\n  ${r.errorType}: ${r.error}`);
        if (choice === instance && Array.isArray(r.data.result) && r.data.result.length === 0) empty.push(q.where);
      }
    }
    // Series that legitimately have no samples yet: the spool is used only while PostgreSQL
    // is down, and GC may not have run.
    // Labelled counters export no series before their first event: no webhook is registered
    // and no alert fires in this traffic; a fresh database has nothing old enough to expire.
    const mayBeEmpty = ['Spool appends by outcome', 'Garbage collection', 'Webhook deliveries and attempts', 'Alert changes', 'Retention'];
    expect(empty.filter((w) => !mayBeEmpty.some((title) => w.includes(`› ${title} ›`))), 'panels without data').toEqual([]);
  });
});
