/** The run's summary as text: per category, outcomes and failures; raw HTTP behaviour; timing and memory. */
import type { FuzzRunner } from './fuzz-run.js';

function top(map: Map<string, number>, n: number): string {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function categoryTable(runner: FuzzRunner): string {
  const rows = [...runner.stats.entries()].sort((a, b) => b[1].cases - a[1].cases);
  const total = rows.reduce((s, [, st]) => s + st.cases, 0);
  const lines = rows.map(([cat, st]) => `  ${cat.padEnd(20)} ${String(st.cases).padStart(7)}  failures ${String(st.failures).padStart(4)}  ${top(st.outcomes, 6)}`);
  return [`cases per category (total ${total}):`, ...lines].join('\n');
}

export function rawTable(runner: FuzzRunner): string {
  const lines = [...runner.rawBehaviour.entries()].sort().map(([name, m]) => `  ${name.slice(0, 70).padEnd(70)} → ${top(m, 4)}`);
  return ['what the HTTP layer did with raw requests:', ...lines].join('\n');
}

export function failureList(runner: FuzzRunner, max = 40): string {
  const lines: string[] = [];
  for (const f of runner.failures.slice(0, max)) {
    lines.push(`  case ${f.caseId} [${f.fuzzCase.category}] ${f.fuzzCase.name.slice(0, 160)}`);
    for (const p of f.problems.slice(0, 4)) lines.push(`      - ${p.slice(0, 400)}`);
  }
  if (runner.failures.length > max) lines.push(`  … and ${runner.failures.length - max} more`);
  return lines.join('\n');
}
