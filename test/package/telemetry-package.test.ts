/**
 * @machpay/telemetry as its users get it: `npm pack` of packages/telemetry (built by
 * `npm run build`), installed into an empty directory far from the receiver's
 * node_modules, then loaded with `import` and with `require()` by separate Node processes
 * that each send a signed interaction to a real receiver. The rows must be in PostgreSQL,
 * and its type declarations must compile in a browser project without Node's types.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const run = promisify(execFile);
const PACKAGE_DIR = fileURLToPath(new URL('../../packages/telemetry/', import.meta.url));
const pkg = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

/** One interaction, sent and awaited; prints the agent id. `load` is the module's import or require line. */
function producer(load: string): string {
  return `${load}
const keypair = sdk.generateKeypair();
const emitter = new sdk.TelemetryEmitter({ receiverUrl: process.argv[2], keypair, flushIntervalMs: 10, telemetryIntervalMs: 0 });
emitter.start();
emitter.recordInteraction({ vendorId: 'packed-' + process.argv[3], success: true, latencyMs: 12, amountAtomic: 2500n });
emitter.stop({ deadlineMs: 10000 }).then((stats) => {
  if (stats.sent !== 1) throw new Error('not sent: ' + JSON.stringify(stats));
  console.log(keypair.agentId);
});
`;
}

let db: TestDatabase;
let rx: RunningReceiver;
let consumer: string;

beforeAll(async () => {
  expect(existsSync(join(PACKAGE_DIR, 'dist/esm/sdk/index.js')), 'packages/telemetry is built by `npm run build`').toBe(true);
  db = await createTestDatabase('sdk_pkg');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
  consumer = await mkdtemp(join(tmpdir(), 'machpay-telemetry-consumer-'));
}, 120_000);

afterAll(async () => {
  await rx?.stop();
  await db?.drop();
  if (consumer !== undefined) await rm(consumer, { recursive: true, force: true });
});

describe('the @machpay/telemetry package', () => {
  it('depends on tweetnacl and msgpackr only', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['msgpackr', 'tweetnacl']);
  });

  it('packs, installs on its own, and sends signed events from ESM and from CommonJS', async () => {
    // The build ran before the tests (npm test's pretest): pack exactly that.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', consumer], { cwd: PACKAGE_DIR });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = (packed?.files ?? []).map((f) => f.path);
    expect(files).toContain('dist/esm/sdk/index.js');
    expect(files).toContain('dist/esm/sdk/index.d.ts');
    expect(files).toContain('dist/cjs/sdk/index.js');
    expect(files).toContain('dist/cjs/package.json');
    expect(files).toContain('dist/browser/telemetry.js');
    expect(files).toContain('README.md');
    expect(files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json')).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.ts') !== f.endsWith('.d.ts'))).toEqual([]);

    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    await run('npm', ['install', join(consumer, packed?.filename ?? ''), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: consumer, timeout: 120_000 });
    const installed = (await readdir(join(consumer, 'node_modules'))).filter((n) => !n.startsWith('.'));
    // tweetnacl, msgpackr and msgpackr's optional native speed-up: nothing of the receiver.
    expect(installed.filter((n) => !['@machpay', 'tweetnacl', 'msgpackr', 'msgpackr-extract', '@msgpackr-extract', 'node-gyp-build-optional-packages', 'detect-libc'].includes(n))).toEqual([]);

    await writeFile(join(consumer, 'esm.mjs'), producer(`import * as sdk from '${pkg.name}';`));
    await writeFile(join(consumer, 'cjs.cjs'), producer(`const sdk = require('${pkg.name}');`));
    const agents: string[] = [];
    for (const [file, kind] of [
      ['esm.mjs', 'esm'],
      ['cjs.cjs', 'cjs'],
    ] as const) {
      const out = await run(process.execPath, [file, rx.url, kind], { cwd: consumer, timeout: 60_000 });
      agents.push(out.stdout.trim());
    }
    const rows = await query<{ agent_id: string; vendor_id: string; amount_atomic: string }>(
      db.url,
      'SELECT agent_id, vendor_id, amount_atomic::text FROM agent_interactions WHERE agent_id = ANY($1) ORDER BY vendor_id DESC',
      [agents],
    );
    expect(rows).toEqual([
      { agent_id: agents[0], vendor_id: 'packed-esm', amount_atomic: '2500' },
      { agent_id: agents[1], vendor_id: 'packed-cjs', amount_atomic: '2500' },
    ]);

    // Its types serve a browser project (DOM library, no @types/node) from `import` and from `require`.
    await writeFile(join(consumer, 'types.mts'), `import { generateKeypair, recordX402Fetch, TelemetryEmitter } from '${pkg.name}';\nconst emitter = new TelemetryEmitter({ receiverUrl: 'https://rx.example', keypair: generateKeypair() });\nexport const paid: typeof fetch = recordX402Fetch(fetch, { emitter });\n`);
    await writeFile(join(consumer, 'types.cts'), `import sdk = require('${pkg.name}');\nexport const emitter = new sdk.TelemetryEmitter({ receiverUrl: 'https://rx.example', keypair: sdk.generateKeypair() });\n`);
    const compilerOptions = { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] };
    await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types.mts', 'types.cts'] }));
    await run(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(consumer, 'tsconfig.json')], { cwd: consumer, timeout: 60_000 });
  }, 240_000);

  it('gives CommonJS and ESM users the same exports, and the browser build no node: import', async () => {
    const esm = await import('@machpay/telemetry');
    const cjs = createRequire(import.meta.url)('@machpay/telemetry') as Record<string, unknown>;
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort());
    const browser = await readFile(join(PACKAGE_DIR, 'dist/browser/telemetry.js'), 'utf8');
    expect(browser).not.toMatch(/\bnode:|\brequire\(/);
    expect(browser).toMatch(/export \{/);
  });
});
