import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readBuildInfo } from '../../src/build-info.js';

/** machpay_build_info's labels as an image build leaves them (package.json and BUILD_COMMIT at the root). */

const dirs: string[] = [];
async function root(files: Record<string, string>): Promise<URL> {
  const dir = await mkdtemp(join(tmpdir(), 'build-info-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return pathToFileURL(`${dir}/`);
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('readBuildInfo', () => {
  it('reads the version, this Node.js and the commit an image build wrote', async () => {
    const r = await root({ 'package.json': '{"version":"1.2.3"}', BUILD_COMMIT: 'c43b3a3f0e\n' });
    expect(readBuildInfo([r])).toEqual({ version: '1.2.3', nodeVersion: process.version, commit: 'c43b3a3f0e' });
  });

  it('says unknown for a commit it cannot trust as one bounded label value, or none at all', async () => {
    const empty = await root({ 'package.json': '{"version":"1.2.3"}', BUILD_COMMIT: '\n' });
    const odd = await root({ 'package.json': '{"version":"1.2.3"}', BUILD_COMMIT: 'main, dirty\n' });
    const none = await root({ 'package.json': '{"version":"1.2.3"}' });
    for (const r of [empty, odd, none]) expect(readBuildInfo([r]).commit).toBe('unknown');
  });

  it('takes the nearest root that has a package.json', async () => {
    const missing = new URL('file:///nonexistent-build-info-root/');
    const r = await root({ 'package.json': '{"version":"0.9.0"}' });
    expect(readBuildInfo([missing, r]).version).toBe('0.9.0');
    expect(readBuildInfo([missing])).toEqual({ version: 'unknown', nodeVersion: process.version, commit: 'unknown' });
  });
});
