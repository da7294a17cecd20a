import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseYamlFile } from './yaml-file.js';

/** The dashboards and provisioning of grafana/, read as Grafana reads them. */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GRAFANA_DIR = join(REPO_ROOT, 'grafana');
export const DASHBOARD_DIR = join(GRAFANA_DIR, 'dashboards');

export interface DatasourceRef {
  type: string;
  uid: string;
}

export type Json = Record<string, unknown>;

export interface Dashboard {
  readonly file: string;
  readonly json: Json;
  /** Every panel, those nested in collapsed rows included. */
  readonly panels: Json[];
  readonly variables: Json[];
}

/** One query Grafana would send: a panel target or a query variable's query. */
export interface DashboardQuery {
  /** "file › panel title › refId" or "file › variable name", for failure messages. */
  readonly where: string;
  readonly datasource: DatasourceRef;
  /** PromQL or SQL, as written in the dashboard (variables and macros not yet expanded). */
  readonly text: string;
  /** The panel's type (timeseries, stat, table…), or 'variable'. */
  readonly panelType: string;
  /** Grafana's result format when the target names one ('time_series', 'table', 0, 1…). */
  readonly format: unknown;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function flattenPanels(panels: unknown[]): Json[] {
  return panels.filter(isObject).flatMap((p) => [p, ...(Array.isArray(p.panels) ? flattenPanels(p.panels) : [])]);
}

export async function loadDashboards(): Promise<Dashboard[]> {
  const files = (await readdir(DASHBOARD_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(DASHBOARD_DIR, file), 'utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new Error(`grafana/dashboards/${file} is not valid JSON: ${(err as Error).message}`);
      }
      if (!isObject(json)) throw new Error(`grafana/dashboards/${file} is not a JSON object`);
      const templating = isObject(json.templating) && Array.isArray(json.templating.list) ? json.templating.list.filter(isObject) : [];
      return { file, json, panels: flattenPanels(Array.isArray(json.panels) ? json.panels : []), variables: templating };
    }),
  );
}

export function datasourceRef(v: unknown): DatasourceRef | null {
  return isObject(v) && typeof v.type === 'string' && typeof v.uid === 'string' ? { type: v.type, uid: v.uid } : null;
}

/** The variable a datasource uid names (`${datasource}` or `$datasource`), or null for a fixed uid. */
export function datasourceVariableName(uid: string): string | null {
  const m = /^\$\{(\w+)\}$|^\$(\w+)$/.exec(uid);
  return m === null ? null : ((m[1] ?? m[2]) as string);
}

/**
 * What Grafana queries for `ref` when it loads `d` as provisioned: a uid naming a datasource
 * variable resolves to that variable's current value, which must be of the same type.
 */
export function resolveDatasource(ref: DatasourceRef, d: Dashboard, where: string): DatasourceRef {
  const name = datasourceVariableName(ref.uid);
  if (name === null) return ref;
  const v = d.variables.find((x) => x.name === name);
  if (v === undefined || v.type !== 'datasource') throw new Error(`${where}: datasource uid ${ref.uid} names no datasource variable of ${d.file}`);
  if (v.query !== ref.type) throw new Error(`${where}: variable $${name} lists ${String(v.query)} datasources, the reference is of type ${ref.type}`);
  const current = isObject(v.current) ? v.current.value : undefined;
  if (typeof current !== 'string') throw new Error(`${d.file} › variable ${name}: no current value`);
  return { type: ref.type, uid: current };
}

/** The query text of a target or variable: PromQL `expr`, SQL `rawSql`, or a variable's `query`. */
function queryText(q: unknown): string | null {
  if (typeof q === 'string') return q;
  if (!isObject(q)) return null;
  for (const key of ['expr', 'rawSql', 'query']) if (typeof q[key] === 'string') return q[key] as string;
  return null;
}

/**
 * Every panel target and every query variable of `d`; panel targets fall back to the panel's
 * datasource, and datasource variables are resolved to their current (provisioned) uid.
 */
export function queriesOf(d: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const panel of d.panels) {
    if (panel.type === 'row') continue;
    const panelDs = datasourceRef(panel.datasource);
    for (const target of Array.isArray(panel.targets) ? panel.targets.filter(isObject) : []) {
      const ds = datasourceRef(target.datasource) ?? panelDs;
      const text = queryText(target);
      const where = `${d.file} › ${String(panel.title)} › ${String(target.refId)}`;
      if (ds === null || text === null) throw new Error(`${where}: no datasource or no query text`);
      out.push({ where, datasource: resolveDatasource(ds, d, where), text, panelType: String(panel.type), format: target.format });
    }
  }
  for (const v of d.variables) {
    if (v.type !== 'query') continue;
    const ds = datasourceRef(v.datasource);
    const text = queryText(v.query);
    const where = `${d.file} › variable ${String(v.name)}`;
    if (ds === null || text === null) throw new Error(`${where}: no datasource or no query text`);
    out.push({ where, datasource: resolveDatasource(ds, d, where), text, panelType: 'variable', format: 'table' });
  }
  return out;
}

export interface ProvisionedDatasource {
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly raw: Json;
}

/** Every datasource of grafana/provisioning/datasources/*.yml, by uid. */
export async function loadProvisionedDatasources(): Promise<Map<string, ProvisionedDatasource>> {
  const dir = join(GRAFANA_DIR, 'provisioning', 'datasources');
  const out = new Map<string, ProvisionedDatasource>();
  for (const file of (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const doc = await parseYamlFile(join(dir, file));
    if (!isObject(doc) || doc.apiVersion !== 1 || !Array.isArray(doc.datasources)) throw new Error(`${file}: expected apiVersion: 1 and a datasources list`);
    for (const ds of doc.datasources) {
      if (!isObject(ds) || typeof ds.uid !== 'string' || typeof ds.type !== 'string' || typeof ds.name !== 'string') {
        throw new Error(`${file}: every datasource needs name, type and uid: ${JSON.stringify(ds)}`);
      }
      if (out.has(ds.uid)) throw new Error(`${file}: datasource uid ${ds.uid} provisioned twice`);
      out.set(ds.uid, { name: ds.name, uid: ds.uid, type: ds.type, raw: ds });
    }
  }
  return out;
}
