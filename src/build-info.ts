import { existsSync, readFileSync } from 'node:fs';

/** What machpay_build_info reports: bounded values, one series per process. */
export interface BuildInfo {
  version: string;
  nodeVersion: string;
  /** The source commit the image was built from, or 'unknown' outside such a build. */
  commit: string;
}

/**
 * The package root holds package.json and, in a container image, BUILD_COMMIT (written from
 * the image's build argument, since an image carries no .git). This file is one level below
 * the root in src/ and two in dist/src/.
 */
const ROOTS = [new URL('../', import.meta.url), new URL('../../', import.meta.url)];

/** `roots`: where to look for the package root, nearest first (a test passes its own). */
export function readBuildInfo(roots: readonly URL[] = ROOTS): BuildInfo {
  const root = roots.find((u) => existsSync(new URL('package.json', u)));
  if (root === undefined) return { version: 'unknown', nodeVersion: process.version, commit: 'unknown' };
  const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version?: string };
  const commitFile = new URL('BUILD_COMMIT', root);
  const commit = existsSync(commitFile) ? readFileSync(commitFile, 'utf8').trim() : '';
  // A short hex id at most: the label stays one bounded value whatever the file holds.
  return { version: version ?? 'unknown', nodeVersion: process.version, commit: /^[0-9a-f]{7,40}$/.test(commit) ? commit : 'unknown' };
}
