/**
 * Metric names a PromQL expression selects, found without a full PromQL parser: strings,
 * label matchers, ranges and grouping label lists are removed first; then every identifier
 * that is not a function or aggregation (followed by `(`), a keyword, or a Grafana variable
 * is a metric name. Good enough for dashboard expressions, and tested on the shapes they use.
 */

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool',
  'and', 'or', 'unless', 'atan2', 'offset', 'inf', 'nan',
]);

export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[\w$]+/g, ' ');
  const names = new Set<string>();
  // Tokens: Grafana variables, numbers (so 1e3 is not read as "e3"), identifiers, anything else.
  const token = /\$\{[^}]*\}|\$\w+|\d[\w.]*|([a-zA-Z_:][a-zA-Z0-9_:]*)|\S/g;
  for (let m = token.exec(stripped); m !== null; m = token.exec(stripped)) {
    const ident = m[1];
    if (ident === undefined || KEYWORDS.has(ident)) continue;
    const rest = stripped.slice(token.lastIndex);
    if (/^\s*\(/.test(rest)) continue; // a function or an aggregation
    names.add(ident);
  }
  return [...names];
}
