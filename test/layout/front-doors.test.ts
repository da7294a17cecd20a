/**
 * One front door per folder (house style): code outside a folder that has an `index.ts`
 * imports that folder through an `index.ts` (its own, or a nested one it declares, such as
 * src/pipeline/worker/index.ts for the worker side), never a file behind it. Folders without
 * an `index.ts` (bench/, test/helpers/) are plain collections of files. Files directly in
 * src/ (config.ts, logger.ts, metrics.ts …) are modules of their own: src/index.ts is the
 * package's export for its users, not a door the repository's own code must use.
 *
 * Exceptions, each with its reason:
 * - native-bench/ may import files of src/: each ceiling measures one internal piece alone
 *   (a fold round, the row writers), which no front door should export for production use.
 *
 * And the folders of src/ import each other without a cycle (src/read uses src/server, so
 * src/server must never import src/read).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCANNED = ['src', 'workers', 'bench', 'native-bench', 'scripts', 'examples'];
/** The console page is a browser program built by Vite, with its own tsconfig and lint block. */
const SKIPPED = [join(ROOT, 'src', 'console', 'page')];
const EXCEPTIONS: readonly { from: string; to: string }[] = [{ from: 'native-bench/', to: 'src/' }];

function sourceFiles(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === 'node_modules' || SKIPPED.includes(path)) continue;
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Relative imports of `file`, resolved to the .ts files they name. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), (m[1] ?? m[2]) as string).replace(/\.js$/, '.ts'));
}

const hasIndex = new Map<string, boolean>();
function isFrontDoorFolder(dir: string): boolean {
  if (dir === join(ROOT, 'src')) return false;
  let known = hasIndex.get(dir);
  if (known === undefined) {
    try {
      known = statSync(join(dir, 'index.ts')).isFile();
    } catch {
      known = false;
    }
    hasIndex.set(dir, known);
  }
  return known;
}

/** Why `from` may not import `to`, or null when it may. */
export function frontDoorViolation(from: string, to: string): string | null {
  const fromDir = dirname(from);
  const toDir = dirname(to);
  if (toDir === fromDir || toDir.startsWith(fromDir + sep) === false) {
    // Find the folders entered on the way from the common ancestor down to the target.
    const a = fromDir.split(sep);
    const b = toDir.split(sep);
    let common = 0;
    while (common < a.length && common < b.length && a[common] === b[common]) common++;
    for (let i = common + 1; i <= b.length; i++) {
      const entered = b.slice(0, i).join(sep);
      if (!isFrontDoorFolder(entered)) continue;
      return to.endsWith(`${sep}index.ts`) ? null : `${relative(ROOT, entered)}/ has a front door (index.ts)`;
    }
    return null;
  }
  // A folder below the importer's: the same rule, entering from the importer's folder.
  const below = toDir.slice(fromDir.length + 1).split(sep);
  for (let i = 1; i <= below.length; i++) {
    const entered = join(fromDir, ...below.slice(0, i));
    if (!isFrontDoorFolder(entered)) continue;
    return to.endsWith(`${sep}index.ts`) ? null : `${relative(ROOT, entered)}/ has a front door (index.ts)`;
  }
  return null;
}

function excepted(from: string, to: string): boolean {
  const f = relative(ROOT, from);
  const t = relative(ROOT, to);
  return EXCEPTIONS.some((e) => f.startsWith(e.from) && t.startsWith(e.to));
}

describe('front doors', () => {
  const files = SCANNED.flatMap((d) => sourceFiles(join(ROOT, d)));

  it('finds the source files and their imports (the scan can see a violation)', () => {
    expect(files.length).toBeGreaterThan(100);
    const alertsRoute = join(ROOT, 'src', 'alerts', 'routes.ts');
    expect(frontDoorViolation(alertsRoute, join(ROOT, 'src', 'read', 'read-route.ts'))).toContain('src/read/');
    expect(frontDoorViolation(alertsRoute, join(ROOT, 'src', 'read', 'index.ts'))).toBeNull();
    expect(frontDoorViolation(alertsRoute, join(ROOT, 'src', 'logger.ts'))).toBeNull();
    expect(frontDoorViolation(join(ROOT, 'src', 'receiver.ts'), join(ROOT, 'src', 'pipeline', 'worker', 'index.ts'))).toBeNull();
    expect(frontDoorViolation(join(ROOT, 'src', 'codec', 'events', 'telemetry.ts'), join(ROOT, 'src', 'codec', 'int64.ts'))).toBeNull();
  });

  it('no import from another folder bypasses that folder’s index.ts', () => {
    const violations: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file)) {
        const why = frontDoorViolation(file, target);
        if (why !== null && !excepted(file, target)) violations.push(`${relative(ROOT, file)} → ${relative(ROOT, target)}: ${why}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the folders of src/ import one another without a cycle', () => {
    const src = join(ROOT, 'src');
    const folderOf = (file: string): string | null => {
      const parts = relative(src, file).split(sep);
      return parts.length > 1 ? (parts[0] as string) : null;
    };
    const edges = new Map<string, Set<string>>();
    for (const file of sourceFiles(src)) {
      const from = folderOf(file);
      if (from === null) continue;
      for (const target of importsOf(file)) {
        const to = target.startsWith(src + sep) ? folderOf(target) : null;
        if (to !== null && to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    expect(edges.get('read')?.has('server')).toBe(true);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, path: string[]): void => {
      state.set(node, 'open');
      for (const next of edges.get(node) ?? []) {
        if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].join(' → '));
        else if (state.get(next) === undefined) visit(next, [...path, next]);
      }
      state.set(node, 'done');
    };
    for (const node of edges.keys()) if (state.get(node) === undefined) visit(node, [node]);
    expect(cycles).toEqual([]);
  });
});
