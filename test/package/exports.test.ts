import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as receiver from '../../src/index.js';

const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, string>; bin: Record<string, string> };

describe('the package entry points', () => {
  it('each "exports" and "bin" target is built from a source file', () => {
    for (const target of [...Object.values(pkg.exports), ...Object.values(pkg.bin)]) {
      const source = target.replace(/^(\.\/)?dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(new URL(`../../${source}`, import.meta.url)), target).toBe(true);
    }
  });

  it('"." gives an embedder what it needs to run a receiver', () => {
    expect(Object.keys(receiver).sort()).toEqual(['ConfigError', 'createLogger', 'loadConfig', 'startReceiver']);
    expect(receiver.loadConfig({}).port).toBeGreaterThan(0);
  });
});
