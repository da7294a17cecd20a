import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/receiver.js';
import { GRAFANA_DIR, isObject, loadProvisionedDatasources, REPO_ROOT, type Json, type ProvisionedDatasource } from './dashboard-files.js';
import { findBinary } from './prometheus-server.js';
import { POSTGRES_READER_SCRIPT } from './service-schemas.js';
import { parseYamlFile } from './yaml-file.js';

/**
 * docker-compose.yml and grafana/'s provisioning, checked by reading (Docker does not run
 * here): valid YAML, and every name, port, path and credential one service expects of
 * another agrees. prometheus.yml also goes through `promtool check config`.
 */

let compose: Json;
let services: Record<string, Json>;
let datasources: Map<string, ProvisionedDatasource>;
let dockerfile: string;

beforeAll(async () => {
  const doc = await parseYamlFile(join(REPO_ROOT, 'docker-compose.yml'));
  if (!isObject(doc) || !isObject(doc.services)) throw new Error('docker-compose.yml has no services');
  compose = doc;
  services = doc.services as Record<string, Json>;
  datasources = await loadProvisionedDatasources();
  dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
});

/** Compose interpolation with nothing set in the environment: ${VAR:-default} → default. */
function resolved(value: unknown, where: string): string {
  const text = String(value);
  return text.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g, (whole, braced?: string, fallback?: string, bare?: string) => {
    if (whole === '$$') return '$';
    if (fallback !== undefined) return fallback;
    throw new Error(`${where}: ${braced ?? bare ?? whole} has no default, so the stack does not start without it`);
  });
}

function service(name: string): Json {
  const s = services[name];
  if (!isObject(s)) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

function env(name: string): Record<string, string> {
  const e = service(name).environment;
  if (!isObject(e)) throw new Error(`service ${name}: environment must be a mapping`);
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, resolved(v, `${name}.environment.${k}`)]));
}

/** Bind mounts "./host:container[:ro]" as [host, container]. */
function binds(name: string): [string, string][] {
  const vols = service(name).volumes;
  return (Array.isArray(vols) ? vols : []).map(String).filter((v) => v.startsWith('./')).map((v) => v.split(':').slice(0, 2) as [string, string]);
}

function mountOf(name: string, hostPath: string): string {
  const hit = binds(name).find(([host]) => host === hostPath);
  if (hit === undefined) throw new Error(`service ${name} does not mount ${hostPath}`);
  return hit[1];
}

describe('docker-compose.yml', () => {
  it('runs the receiver, PostgreSQL 17, ClickHouse, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'grafana', 'postgres', 'prometheus', 'receiver']);
    // Every image pinned to a release (major.minor at least), never a floating major or latest.
    expect(String(service('postgres').image)).toMatch(/^postgres:17\.\d+$/);
    expect(String(service('clickhouse').image)).toMatch(/^clickhouse\/clickhouse-server:\d+\.\d+/);
    expect(String(service('prometheus').image)).toMatch(/^prom\/prometheus:v\d/);
    expect(String(service('grafana').image)).toMatch(/^grafana\/grafana(-oss|-enterprise)?:\d+\.\d+/);
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on) ? s.depends_on.map(String) : isObject(s.depends_on) ? Object.keys(s.depends_on) : [];
      for (const dep of deps) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
    }
    const named = new Set(Object.keys(isObject(compose.volumes) ? compose.volumes : {}));
    for (const [name, s] of Object.entries(services)) {
      for (const v of (Array.isArray(s.volumes) ? s.volumes : []).map(String)) {
        const source = v.split(':')[0] as string;
        if (source.startsWith('./')) expect(existsSync(join(REPO_ROOT, source)), `${name} mounts ${source}, which does not exist`).toBe(true);
        else expect(named, `${name} uses volume ${source}, not declared under volumes:`).toContain(source);
      }
    }
  });

  it('builds the receiver from the Dockerfile and wires it to both databases on port 8080', async () => {
    const rx = service('receiver');
    const build = isObject(rx.build) ? rx.build.context : rx.build;
    expect(build).toBe('.');
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    const e = env('receiver');
    expect(e.PORT).toBe('8080');

    const pg = env('postgres');
    const db = new URL(e.DATABASE_URL as string);
    expect([db.protocol, db.hostname, db.port, decodeURIComponent(db.username), decodeURIComponent(db.password), db.pathname]).toEqual([
      'postgres:', 'postgres', '5432', pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, `/${pg.POSTGRES_DB}`,
    ]);
    const chEnv = env('clickhouse');
    const ch = new URL(e.CLICKHOUSE_URL as string);
    expect([ch.protocol, ch.hostname, ch.port, decodeURIComponent(ch.username), decodeURIComponent(ch.password), ch.pathname]).toEqual([
      'http:', 'clickhouse', '8123', chEnv.CLICKHOUSE_USER, chEnv.CLICKHOUSE_PASSWORD, `/${chEnv.CLICKHOUSE_DB}`,
    ]);

    // The spool volume sits where the image keeps DATA_DIR.
    const dataDir = /DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
    expect(e.DATA_DIR ?? dataDir).toBe(dataDir);
    expect((service('receiver').volumes as unknown[]).map(String)).toContain(`receiver-data:${dataDir}`);

    // Every variable given to the receiver is one of its configuration keys.
    const help = await runCli(['--help']);
    for (const key of Object.keys(e)) expect(help.stdout, `receiver --help does not document ${key}`).toContain(key);
  });

  it('lets Prometheus scrape receiver:8080 with grafana/prometheus.yml', async () => {
    const args = (service('prometheus').command as unknown[]).map(String);
    const configPath = args.find((a) => a.startsWith('--config.file='))?.slice('--config.file='.length);
    expect(mountOf('prometheus', './grafana/prometheus.yml')).toBe(configPath);
    const config = await parseYamlFile(join(GRAFANA_DIR, 'prometheus.yml'));
    const jobs = isObject(config) && Array.isArray(config.scrape_configs) ? config.scrape_configs.filter(isObject) : [];
    const machpay = jobs.find((j) => j.job_name === 'machpay');
    expect(machpay?.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = (Array.isArray(machpay?.static_configs) ? machpay.static_configs : []).flatMap((s: unknown) => (isObject(s) && Array.isArray(s.targets) ? s.targets : []));
    expect(targets).toEqual([`receiver:${env('receiver').PORT}`]);
  });

  it('gives Grafana the plugin, the provisioning, the dashboards and every variable the provisioning expands', async () => {
    const g = env('grafana');
    expect(g.GF_INSTALL_PLUGINS?.split(',').map((p) => p.trim().split(/\s+/)[0])).toContain('grafana-clickhouse-datasource');
    expect(mountOf('grafana', './grafana/provisioning')).toBe('/etc/grafana/provisioning');

    const providers = await parseYamlFile(join(GRAFANA_DIR, 'provisioning', 'dashboards', 'machpay.yml'));
    const provider = isObject(providers) && Array.isArray(providers.providers) ? providers.providers.find(isObject) : undefined;
    expect(provider?.type).toBe('file');
    const path = isObject(provider?.options) ? provider.options.path : undefined;
    expect(mountOf('grafana', './grafana/dashboards')).toBe(path);
    const home = g.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(home.startsWith(`${String(path)}/`)).toBe(true);
    expect(existsSync(join(GRAFANA_DIR, 'dashboards', home.slice(String(path).length + 1)))).toBe(true);

    // $VARIABLES in the datasource file are expanded from Grafana's environment.
    const text = await readFile(join(GRAFANA_DIR, 'provisioning', 'datasources', 'machpay.yml'), 'utf8');
    const used = [...text.matchAll(/^[^#]*?\$\{?([A-Z][A-Z0-9_]*)\}?/gm)].map((m) => m[1] as string);
    expect(used.length).toBeGreaterThan(0);
    for (const v of used) expect(Object.keys(g), `grafana's environment lacks ${v}`).toContain(v);
  });

  it('points each datasource at its service, with the credentials the databases are initialised with', () => {
    const g = env('grafana');
    const expand = (v: unknown) => String(v).replace(/\$\{?([A-Z][A-Z0-9_]*)\}?/g, (_w, name: string) => g[name] ?? `<unset ${name}>`);
    const prom = datasources.get('machpay-prometheus')?.raw;
    expect(prom?.url).toBe('http://prometheus:9090');

    const pgDs = datasources.get('machpay-postgres')?.raw;
    const pg = env('postgres');
    expect(pgDs?.url).toBe('postgres:5432');
    expect(expand(pgDs?.user)).toBe(pg.GRAFANA_PG_USER);
    expect(expand(isObject(pgDs?.secureJsonData) ? pgDs.secureJsonData.password : '')).toBe(pg.GRAFANA_PG_PASSWORD);
    expect(expand(isObject(pgDs?.jsonData) ? pgDs.jsonData.database : '')).toBe(pg.POSTGRES_DB);

    const chDs = datasources.get('machpay-clickhouse')?.raw;
    const ch = env('clickhouse');
    const j = isObject(chDs?.jsonData) ? chDs.jsonData : {};
    expect([j.host, j.port, j.protocol]).toEqual(['clickhouse', 8123, 'http']);
    expect(expand(j.username)).toBe(ch.GRAFANA_CH_USER);
    expect(expand(isObject(chDs?.secureJsonData) ? chDs.secureJsonData.password : '')).toBe(ch.GRAFANA_CH_PASSWORD);
    expect(expand(j.defaultDatabase)).toBe(ch.CLICKHOUSE_DB);
  });
});

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), output: `${stdout}${stderr}` });
    });
  });
}

describe('grafana/ support files', () => {
  it('prometheus.yml passes promtool check config', async () => {
    const r = await run(findBinary('promtool'), ['check', 'config', join(GRAFANA_DIR, 'prometheus.yml')]);
    expect(r.code, r.output).toBe(0);
  });

  it('init scripts are valid shell, mounted where the images run them, and use only variables their service sets', async () => {
    const scripts: [string, string, string][] = [
      ['postgres', './grafana/init/postgres', POSTGRES_READER_SCRIPT],
      ['clickhouse', './grafana/init/clickhouse', join(GRAFANA_DIR, 'init', 'clickhouse', '10-grafana-reader.sh')],
    ];
    for (const [name, dir, script] of scripts) {
      expect(mountOf(name, dir)).toBe('/docker-entrypoint-initdb.d');
      const text = await readFile(script, 'utf8');
      const shell = text.startsWith('#!/bin/bash') ? 'bash' : 'sh';
      const r = await run(findBinary(shell), ['-n', script]);
      expect(r.code, r.output).toBe(0);
      const e = env(name);
      for (const m of text.matchAll(/\$\{?([A-Z][A-Z0-9_]*)\}?/g)) expect(Object.keys(e), `${script} uses $${m[1]}`).toContain(m[1]);
    }
    // psql variables used in the here-document are all passed with -v.
    const pgScript = await readFile(POSTGRES_READER_SCRIPT, 'utf8');
    const passed = new Set([...pgScript.matchAll(/-v (\w+)=/g)].map((m) => m[1]));
    for (const m of pgScript.matchAll(/:(["'])(\w+)\1/g)) expect(passed, `psql variable ${m[2]}`).toContain(m[2]);
  });
});
