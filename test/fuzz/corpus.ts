/**
 * The kept corpus: test/fuzz/corpus/curated (hand-written nasty cases, made by
 * write-curated-corpus.ts) and test/fuzz/corpus/found (every case that ever failed), one
 * small JSON file per case, replayed before the generated cases of every run (those
 * marked with an open known bug only with FUZZ_KNOWN_BUGS=1). Strings over 16 KiB (big
 * bodies, huge headers) are stored gzipped so the files stay small.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FuzzCase } from './fuzz-case.js';
import { GENERATE_KNOWN_BUG_TRIGGERS, type KNOWN_BUGS } from './known-bugs.js';

export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

export interface CorpusEntry {
  /** File name without the directory. */
  file: string;
  origin: 'curated' | 'found';
  note: string;
  case: FuzzCase;
  /** A case that fails because of an open bug of known-bugs.ts: replayed only with FUZZ_KNOWN_BUGS=1. */
  knownBug?: keyof typeof KNOWN_BUGS;
  /** For found cases: how the generator made it and what went wrong. */
  seed?: number;
  index?: number;
  problems?: string[];
}

const BIG = 16 * 1024;

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.length > BIG) return { $gzipUtf8: gzipSync(Buffer.from(value, 'utf8'), { level: 9 }).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.$gzipUtf8 === 'string' && Object.keys(o).length === 1) return gunzipSync(Buffer.from(o.$gzipUtf8, 'base64')).toString('utf8');
  }
  return value;
}

export function serialiseEntry(entry: Omit<CorpusEntry, 'file'>): string {
  return `${JSON.stringify(entry, replacer, 1)}\n`;
}

export function loadCorpus(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const origin of ['curated', 'found'] as const) {
    const dir = join(CORPUS_DIR, origin);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8'), reviver) as Omit<CorpusEntry, 'file'>;
      if (parsed.knownBug !== undefined && !GENERATE_KNOWN_BUG_TRIGGERS) continue;
      out.push({ ...parsed, origin, file: `${origin}/${file}` });
    }
  }
  return out;
}

/** Saves a failing case under found/, named by a hash of the case: the same failure is kept once. */
export function saveFound(entry: Omit<CorpusEntry, 'file' | 'origin'>): string {
  const dir = join(CORPUS_DIR, 'found');
  mkdirSync(dir, { recursive: true });
  const hash = createHash('sha256').update(JSON.stringify(entry.case)).digest('hex').slice(0, 16);
  const file = `${entry.case.category}-${hash}.json`;
  const path = join(dir, file);
  if (!existsSync(path)) writeFileSync(path, serialiseEntry({ ...entry, origin: 'found' }));
  return `found/${file}`;
}

export function writeCurated(entries: readonly Omit<CorpusEntry, 'file' | 'origin'>[], names: readonly string[]): void {
  const dir = join(CORPUS_DIR, 'curated');
  mkdirSync(dir, { recursive: true });
  entries.forEach((e, i) => writeFileSync(join(dir, `${String(i + 1).padStart(3, '0')}-${names[i]}.json`), serialiseEntry({ ...e, origin: 'curated' })));
}
