import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { getOnce } from '../helpers/http-get.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { GRAFANA_DIR } from './dashboard-files.js';
import { parseExposition, selectableSeriesNames } from './exposition.js';
import { findBinary } from './prometheus-server.js';
import { metricNamesIn } from './promql-names.js';
import { parseYamlFile } from './yaml-file.js';

/**
 * grafana/alerts: the rules file passes `promtool check rules`, its unit tests pass
 * `promtool test rules`, and every metric its expressions name is in the /metrics output of
 * a real receiver (with ClickHouse, so that the rollup and outbox metrics are there).
 */

const RULES = join(GRAFANA_DIR, 'alerts', 'machpay-receiver.rules.yml');
const RULE_TESTS = join(GRAFANA_DIR, 'alerts', 'machpay-receiver.rules.test.yml');
/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SYNTHETIC = new Set(['up']);

function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(findBinary('promtool'), args, { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: `${stdout}${stderr}` });
    });
  });
}

interface Rule {
  alert?: string;
  expr: string;
}

async function loadRules(): Promise<Rule[]> {
  const doc = (await parseYamlFile(RULES)) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('alert_rules'), createTestClickhouseDatabase('alert_rules')]);
  rx = await startReceiver({ DATABASE_URL: db.url, CLICKHOUSE_URL: ch.url, LOG_LEVEL: 'warn', WORKERS: '1' });
}, 60_000);

afterAll(async () => {
  await rx?.stop();
  await Promise.all([ch?.drop(), db?.drop()]);
});

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', async () => {
    const r = await promtool(['check', 'rules', RULES]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.code, r.output).toBe(0);
  });

  it('pass their promtool unit tests', async () => {
    const r = await promtool(['test', 'rules', RULE_TESTS]);
    expect(r.code, r.output).toBe(0);
  });

  it('name only metrics that a running receiver exports', async () => {
    const res = await getOnce(`${rx.url}/metrics`, 10_000);
    expect(res.status).toBe(200);
    const exported = selectableSeriesNames(parseExposition(res.body));
    const rules = await loadRules();
    expect(rules.length).toBeGreaterThan(10);
    const unknown: string[] = [];
    for (const rule of rules) {
      const names = metricNamesIn(rule.expr);
      expect(names.length, `${rule.alert ?? '?'} names no metric`).toBeGreaterThan(0);
      for (const name of names) if (!exported.has(name) && !PROMETHEUS_SYNTHETIC.has(name)) unknown.push(`${rule.alert ?? '?'}: ${name}`);
    }
    expect(unknown, 'metrics the receiver does not export').toEqual([]);
  });

  it('are loaded by the compose stack: prometheus.yml names them and the service mounts them beside it', async () => {
    const config = (await parseYamlFile(join(GRAFANA_DIR, 'prometheus.yml'))) as { rule_files?: string[] };
    expect(config.rule_files).toEqual(['alerts/*.rules.yml']);
    const compose = (await parseYamlFile(join(GRAFANA_DIR, '..', 'docker-compose.yml'))) as { services: Record<string, { volumes?: string[] }> };
    const volumes = compose.services.prometheus?.volumes ?? [];
    expect(volumes).toContain('./grafana/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(volumes).toContain('./grafana/alerts:/etc/prometheus/alerts:ro');
  });

  it('cover what operators must know', async () => {
    const alerts = new Set((await loadRules()).map((r) => r.alert));
    for (const name of [
      'MachpayReceiverDown',
      'MachpayReceiverNotReady',
      'MachpayPostgresDown',
      'MachpayIngestServerErrors',
      'MachpayIngestThrottled',
      'MachpaySpoolBacklogGrowing',
      'MachpaySpoolFull',
      'MachpayRollupFoldLag',
      'MachpayClickhouseOutboxLag',
      'MachpayWebhookDeliveriesFailing',
      'MachpayRingPressure',
    ]) {
      expect(alerts.has(name), name).toBe(true);
    }
  });
});
