import type { Json } from './dashboard-files.js';

/**
 * What Grafana does to a query before the datasource runs it, for the three datasources of
 * the dashboards: template variables first (the frontend), then the datasource's macros (the
 * backend), with the same formatting rules, so a test can run the exact text Grafana would:
 *   - Prometheus: multi-value variables become a regex alternation; $__rate_interval etc.
 *   - PostgreSQL (Grafana core, pkg/tsdb/grafana-postgresql-datasource/macros.go): multi-value
 *     variables become 'a','b' with '' escaping; $__timeFilter(c) → c BETWEEN 'rfc3339' AND …
 *   - ClickHouse (grafana-clickhouse-datasource pkg/macros): ${v:singlequote}; $__timeFilter(c)
 *     → c >= toDateTime(s) AND c <= toDateTime(s); $__interval_s; $__timeInterval(c).
 * Unknown macros throw, as the datasources reject them; anything left that looks like a
 * variable afterwards is reported, so a typo in a variable name fails the test.
 */

export type Dialect = 'prometheus' | 'postgres' | 'clickhouse';

/** The query language of a Grafana datasource type. */
export function dialectOf(type: string): Dialect {
  if (type === 'prometheus') return 'prometheus';
  if (type === 'grafana-postgresql-datasource' || type === 'postgres') return 'postgres';
  if (type === 'grafana-clickhouse-datasource') return 'clickhouse';
  throw new Error(`no query dialect known for datasource type ${type}`);
}

export interface QueryContext {
  /** Chosen values of the dashboard's variables; '$__all' selects "All". */
  readonly values: Readonly<Record<string, string | readonly string[]>>;
  readonly from: Date;
  readonly to: Date;
  /** $__interval in seconds. */
  readonly intervalSeconds: number;
  /** $__rate_interval (Prometheus), e.g. '1m'. */
  readonly rateInterval?: string;
}

const ALL = '$__all';

/** Go's time.RFC3339Nano in UTC: no fractional part when it is zero, no trailing zeros. */
function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.?0+Z$/, 'Z');
}

function epochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function regexEscape(v: string): string {
  return v.replace(/[\\^$*+?.()|{}[\]]/g, '\\$&');
}

function builtins(ctx: QueryContext): Record<string, string> {
  const rangeSeconds = Math.round((ctx.to.getTime() - ctx.from.getTime()) / 1000);
  return {
    __interval: `${ctx.intervalSeconds}s`,
    __interval_ms: String(ctx.intervalSeconds * 1000),
    __rate_interval: ctx.rateInterval ?? `${Math.max(ctx.intervalSeconds, 60)}s`,
    __range: `${rangeSeconds}s`,
    __range_s: String(rangeSeconds),
    __range_ms: String(rangeSeconds * 1000),
  };
}

function formatValues(values: readonly string[], isMulti: boolean, format: string | undefined, dialect: Dialect): string {
  switch (format) {
    case 'singlequote':
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'csv':
    case 'raw':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'regex':
      return values.length === 1 ? regexEscape(values[0] as string) : `(${values.map(regexEscape).join('|')})`;
    case undefined:
      break;
    default:
      throw new Error(`variable format :${format} is not modelled by this test`);
  }
  if (!isMulti) return values.join(',');
  switch (dialect) {
    case 'prometheus': {
      // Grafana's prometheusSpecialRegexEscape: the backslash itself escaped for the PromQL string.
      const esc = (v: string) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
      return values.length === 1 ? esc(values[0] as string) : `(${values.map(esc).join('|')})`;
    }
    case 'postgres':
      return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'clickhouse':
      // The plugin's own formatter: arrays are quoted and joined, without escaping.
      return `'${values.join("','")}'`;
  }
}

/** Replaces the dashboard's variables and Grafana's global ones in `text`. */
export function interpolateVariables(text: string, variables: readonly Json[], ctx: QueryContext, dialect: Dialect): string {
  const defs = new Map(variables.map((v) => [String(v.name), v]));
  const globals = builtins(ctx);
  const pattern = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}/g;
  return text.replace(pattern, (whole, plain?: string, bracket?: string, bracketFormat?: string, braced?: string, bracedFormat?: string) => {
    const name = plain ?? bracket ?? braced ?? '';
    const format = bracketFormat ?? bracedFormat;
    if (name in globals && format === undefined) return globals[name] as string;
    const def = defs.get(name);
    if (def === undefined) return whole; // a macro, or a typo (caught by assertNoVariablesLeft)
    const chosen = ctx.values[name];
    if (chosen === undefined) throw new Error(`the test gives no value for variable $${name}`);
    const isMulti = def.multi === true || def.includeAll === true;
    const list = typeof chosen === 'string' ? [chosen] : [...chosen];
    if (list.length === 1 && list[0] === ALL) {
      if (typeof def.allValue === 'string' && def.allValue !== '') return def.allValue;
      throw new Error(`variable $${name} has no allValue: give the test its values instead of All`);
    }
    return formatValues(list, isMulti, format, dialect);
  });
}

function expandPostgresMacro(name: string, args: string[], ctx: QueryContext): string {
  const col = args[0] ?? '';
  const need = (): void => {
    if (col === '') throw new Error(`$${name} needs a column`);
  };
  switch (name) {
    case '__time':
      need();
      return `${col} AS "time"`;
    case '__timeEpoch':
      need();
      return `extract(epoch from ${col}) as "time"`;
    case '__timeFilter':
      need();
      return `${col} BETWEEN '${rfc3339Nano(ctx.from)}' AND '${rfc3339Nano(ctx.to)}'`;
    case '__timeFrom':
      return `'${rfc3339Nano(ctx.from)}'`;
    case '__timeTo':
      return `'${rfc3339Nano(ctx.to)}'`;
    case '__unixEpochFilter':
      need();
      return `${col} >= ${epochSeconds(ctx.from)} AND ${col} <= ${epochSeconds(ctx.to)}`;
    case '__timeGroup':
    case '__timeGroupAlias': {
      need();
      const seconds = parseInterval((args[1] ?? '').replace(/'/g, ''));
      const group = `floor(extract(epoch from ${col})/${seconds})*${seconds}`;
      return name === '__timeGroupAlias' ? `${group} AS "time"` : group;
    }
    default:
      throw new Error(`unknown PostgreSQL macro $${name}`);
  }
}

function expandClickhouseMacro(name: string, args: string[] | null, ctx: QueryContext): string {
  const dt = (d: Date): string => `toDateTime(${epochSeconds(d)})`;
  const date = (d: Date): string => `toDate('${d.toISOString().slice(0, 10)}')`;
  const col = args?.[0] ?? '';
  const intervalSeconds = Math.max(ctx.intervalSeconds, 1);
  switch (name) {
    case '__timeFilter':
      return `${col} >= ${dt(ctx.from)} AND ${col} <= ${dt(ctx.to)}`;
    case '__dateFilter':
      return `${col} >= ${date(ctx.from)} AND ${col} <= ${date(ctx.to)}`;
    case '__timeInterval':
      return `toStartOfInterval(toDateTime(${col}), INTERVAL ${intervalSeconds} second)`;
    case '__fromTime':
      return dt(ctx.from);
    case '__toTime':
      return dt(ctx.to);
    case '__interval_s':
      return String(intervalSeconds);
    default:
      throw new Error(`$${name} is not modelled by this test (or not a ClickHouse plugin macro)`);
  }
}

/** '1h', '5m', '30s', '60s', '1d' → seconds (Grafana's gtime.ParseInterval for these forms). */
export function parseInterval(text: string): number {
  const m = /^\s*(\d+)(ms|s|m|h|d|w)\s*$/.exec(text);
  if (m === null) throw new Error(`interval ${JSON.stringify(text)} not understood`);
  const n = Number(m[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd' | 'w'];
  return n * unit;
}

export function expandMacros(text: string, ctx: QueryContext, dialect: Dialect): string {
  switch (dialect) {
    case 'prometheus':
      return text;
    case 'postgres':
      return text.replace(/\$([_a-zA-Z0-9]+)\(([^)]*)\)/g, (_w, name: string, args: string) =>
        expandPostgresMacro(name, args.split(',').map((a) => a.trim()), ctx),
      );
    case 'clickhouse':
      return text
        .replace(/\$(__\w+)\(([^)]*)\)/g, (_w, name: string, args: string) => expandClickhouseMacro(name, args.split(',').map((a) => a.trim()), ctx))
        .replace(/\$(__\w+)/g, (_w, name: string) => expandClickhouseMacro(name, null, ctx));
  }
}

/** Throws when `text` still holds something Grafana would have replaced. */
export function assertNoVariablesLeft(text: string, where: string): void {
  const left = /\$\w+|\$\{[^}]*\}|\[\[\w+/.exec(text);
  if (left !== null) throw new Error(`${where}: ${left[0]} is neither a variable of the dashboard nor a macro of its datasource`);
}

/** The text the datasource finally runs. */
export function renderQuery(text: string, variables: readonly Json[], ctx: QueryContext, dialect: Dialect, where: string): string {
  const rendered = expandMacros(interpolateVariables(text, variables, ctx, dialect), ctx, dialect);
  assertNoVariablesLeft(rendered, where);
  return rendered;
}
