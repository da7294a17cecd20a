/**
 * The console's built files, read once at start-up: each with its content type, a strong
 * ETag and a gzip copy made ahead of time, so that serving one costs a map lookup.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface ConsoleAsset {
  /** Path under `/console/`, with `/` separators (`index.html`, `assets/index-1a2b.js`). */
  path: string;
  contentType: string;
  etag: string;
  body: Buffer;
  /** Null when gzip does not make the file smaller (images, tiny files). */
  gzip: Buffer | null;
  /** Vite puts a content hash in every name under `assets/`: such a file never changes. */
  immutable: boolean;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Source maps stay out: they are for the build, not for people who open the console. */
const SKIPPED = new Set(['.map']);

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else out.push(full);
  }
}

/** Every file of the built console under `dir`; throws when `dir` holds no `index.html`. */
export function loadConsoleAssets(dir: string): Map<string, ConsoleAsset> {
  let files: string[] = [];
  try {
    walk(dir, files);
  } catch {
    files = [];
  }
  const assets = new Map<string, ConsoleAsset>();
  for (const file of files) {
    const ext = extname(file).toLowerCase();
    if (SKIPPED.has(ext)) continue;
    const path = relative(dir, file).split(sep).join('/');
    const body = readFileSync(file);
    const packed = gzipSync(body, { level: 9 });
    assets.set(path, {
      path,
      contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      body,
      gzip: packed.length < body.length ? packed : null,
      immutable: path.startsWith('assets/'),
    });
  }
  if (!assets.has('index.html')) {
    throw new Error(`no built console in ${dir} (index.html missing): run npm run build`);
  }
  return assets;
}
