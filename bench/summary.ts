import { fmtDelta, fmtNum, fmtPct } from './format.js';
import type { Figure } from './results.js';

/** The console table: every figure beside its bounds (measured in this run) and the previous run's value. */
export function printSummary(figures: readonly Figure[], previousId: string | null): void {
  console.log('');
  console.log(`Figures (ratios: throughput ÷ ceiling, latency ÷ floor; previous: ${previousId ?? 'none'})`);
  let scenario = '';
  for (const f of figures) {
    if (f.scenario !== scenario) {
      scenario = f.scenario;
      console.log(`\n${scenario}`);
    }
    const v = `${fmtNum(f.value, f.unit)} ${f.unit === 'count' ? '' : f.unit}`.trim();
    const bounds = f.bounds.map((b) => `${b.label} ${fmtNum(b.value, f.unit)} → ${f.unit === 'ms' ? `${b.ratio.toFixed(1)}×` : fmtPct(b.ratio)}`).join('; ');
    const prev = f.previous === null ? 'prev –' : `prev ${fmtNum(f.previous, f.unit)} (${fmtDelta(f.value, f.previous)})`;
    const goals = f.goals.map((g) => `[${g.met ? 'MET' : 'MISSED'}: ${g.text}]`).join(' ');
    console.log(`  ${f.label}: ${v}${bounds === '' ? '' : ` | ${bounds}`} | ${prev}${goals === '' ? '' : ` ${goals}`}`);
  }
  console.log('');
}
