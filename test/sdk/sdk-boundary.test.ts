import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SDK_ERROR_CODES, SDK_VERSION } from '../../src/sdk/index.js';

const sdkDir = fileURLToPath(new URL('../../src/sdk/', import.meta.url));

describe('the SDK stands on its own', () => {
  it('imports only its own files, the protocol module, the retry policy, tweetnacl, msgpackr, and node:fs behind one dynamic import', async () => {
    const allowedStatic = /^(\.\/[a-z0-9-]+\.js|\.\.\/protocol\/index\.js|\.\.\/retry\/index\.js|tweetnacl|msgpackr)$/;
    // Only key-file.ts touches Node, dynamically; browser builds swap it for key-file.browser.ts.
    const allowedDynamic = new Map([['key-file.ts', 'node:fs/promises']]);
    for (const file of await readdir(sdkDir)) {
      if (!file.endsWith('.ts')) continue;
      const text = await readFile(sdkDir + file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
        expect(m[1], `${file} imports ${m[1]}`).toMatch(allowedStatic);
      }
      for (const m of text.matchAll(/import\('([^']+)'\)/g)) {
        expect(allowedDynamic.get(file), `${file} imports ${m[1]}`).toBe(m[1]);
      }
      expect(text, `${file} must not import node:crypto`).not.toMatch(/(from\s+|import\()'(node:)?crypto'/);
    }
  });

  it('builds on protocol and retry modules that import nothing but their own files', async () => {
    for (const folder of ['protocol', 'retry']) {
      const dir = fileURLToPath(new URL(`../../src/${folder}/`, import.meta.url));
      for (const file of await readdir(dir)) {
        const text = await readFile(dir + file, 'utf8');
        for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
          expect(m[1], `${folder}/${file} imports ${m[1]}`).toMatch(/^\.\/[a-z0-9-]+\.js$/);
        }
        expect(text, `${folder}/${file} must not use Node.js APIs`).not.toMatch(/\bBuffer\b|\bprocess\.|'node:/);
      }
    }
  });

  it('reports the package version, which is the receiver\'s and @machpay/telemetry\'s', async () => {
    for (const file of ['../../package.json', '../../packages/telemetry/package.json']) {
      const pkg = JSON.parse(await readFile(new URL(file, import.meta.url), 'utf8')) as { version: string };
      expect(SDK_VERSION, file).toBe(pkg.version);
    }
  });

  it('documents every SDK error code', () => {
    for (const [code, message] of Object.entries(SDK_ERROR_CODES)) {
      expect(code).toMatch(/^[a-z_]+$/);
      expect(message.length).toBeGreaterThan(10);
    }
  });
});
