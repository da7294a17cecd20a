import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDashboards, queriesOf, REPO_ROOT } from '../observability/dashboard-files.js';
import { renderQuery } from '../observability/grafana-interpolation.js';

/**
 * Every ClickHouse query the project ships, ready to run: the Grafana dashboards' (rendered as
 * Grafana renders them, for agents and for gateways) and the ```sql examples of the project's
 * Markdown that read rollup_minute. The cluster and current-release tests run them all.
 */

export interface ProjectQuery {
  where: string;
  sql: string;
}

/** Placeholders of the documented examples, and what the tests put there. */
export interface ExampleValues {
  agent: string;
}

const MARKDOWN_ROOTS = ['README.md', 'docs', 'grafana', 'src'];

async function markdownFiles(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const path = join(REPO_ROOT, rel);
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      if (rel.endsWith('.md')) out.push(rel);
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(rel, e.name));
      else if (e.name.endsWith('.md')) out.push(join(rel, e.name));
    }
  };
  for (const root of MARKDOWN_ROOTS) await walk(root);
  return out.sort();
}

/** The ```sql blocks of the project's Markdown that query rollup_minute, with AGENT filled in. */
export async function documentedQueries(values: ExampleValues): Promise<ProjectQuery[]> {
  const out: ProjectQuery[] = [];
  for (const file of await markdownFiles()) {
    const text = await readFile(join(REPO_ROOT, file), 'utf8');
    let n = 0;
    for (const m of text.matchAll(/```sql\n([\s\S]*?)```/g)) {
      const sql = (m[1] as string).trim();
      n++;
      if (!/\brollup_minute\b/.test(sql)) continue;
      out.push({ where: `${file} sql block ${n}`, sql: sql.replaceAll("'AGENT'", `'${values.agent}'`).replace(/;\s*$/, '') });
    }
  }
  return out;
}

/** The ClickHouse queries of every dashboard, for kind agent and gateway and the given vendors, over [from, to). */
export async function dashboardQueries(from: Date, to: Date, vendors: readonly string[]): Promise<ProjectQuery[]> {
  const out: ProjectQuery[] = [];
  for (const d of await loadDashboards()) {
    for (const q of queriesOf(d)) {
      if (q.datasource.type !== 'grafana-clickhouse-datasource') continue;
      for (const kind of ['agent', 'gateway']) {
        const ctx = { from, to, intervalSeconds: 60, values: { kind, vendor: vendors } };
        out.push({ where: `${q.where} (kind ${kind})`, sql: renderQuery(q.text, d.variables, ctx, 'clickhouse', q.where) });
      }
    }
  }
  return out;
}

/**
 * Rows in a form that compares across servers and releases: numbers as numbers (UInt64 comes
 * quoted), floats to 9 significant digits, and the rows sorted (a Distributed table returns
 * the shards' rows in any order where the query does not order them).
 */
export function comparable(rows: readonly Record<string, unknown>[]): string[] {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v))) {
      const n = Number(v);
      return Number.isInteger(n) ? n : Number(n.toPrecision(9));
    }
    return v;
  };
  return rows.map((r) => JSON.stringify(Object.entries(r).map(([k, v]) => [k, norm(v)]))).sort();
}
