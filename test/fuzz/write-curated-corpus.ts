/**
 * Writes corpus/curated/*.json from curated-cases.ts. Run it after changing the curated
 * cases:  npx vite-node test/fuzz/write-curated-corpus.ts
 * (old files are removed first, so renamed cases do not linger).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS_DIR, writeCurated } from './corpus.js';
import { curatedCases } from './curated-cases.js';

const dir = join(CORPUS_DIR, 'curated');
try {
  for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f));
} catch {
  // no directory yet
}
const cases = curatedCases();
writeCurated(
  cases.map((c) => ({ note: c.note, case: c.case })),
  cases.map((c) => c.name),
);
console.log(`wrote ${cases.length} curated cases to ${dir}`);
