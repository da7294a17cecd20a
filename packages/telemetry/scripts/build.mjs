/**
 * Builds the package from the receiver's own SDK sources (src/sdk with the src/protocol and
 * src/retry modules it imports), so the package and the receiver share one copy of the code:
 *   dist/esm      ES modules with .d.ts types (Node ≥ 18 `import`, bundlers, edge runtimes)
 *   dist/cjs      CommonJS with .d.ts types (`require`)
 *   dist/browser  one self-contained ES module, tweetnacl and msgpackr included, for pages
 *                 that load the SDK without a bundler
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('../', import.meta.url));
const sdkDir = fileURLToPath(new URL('../../../src/sdk/', import.meta.url));
const require = createRequire(import.meta.url);

rmSync(`${packageDir}dist`, { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc');
for (const project of ['tsconfig.esm.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', `${packageDir}${project}`], { stdio: 'inherit' });
}
// The package is "type": "module"; this marker makes Node read dist/cjs as CommonJS.
mkdirSync(`${packageDir}dist/cjs`, { recursive: true });
writeFileSync(`${packageDir}dist/cjs/package.json`, '{ "type": "commonjs" }\n');

const { build } = await import('vite');
await build({
  configFile: false,
  logLevel: 'warn',
  plugins: [
    {
      // The bundle is for browsers: use the key-file stand-in, as the package's `browser` field does.
      name: 'machpay-browser-key-file',
      enforce: 'pre',
      resolveId(source, importer) {
        if (source === './key-file.js' && importer?.startsWith(sdkDir)) return `${sdkDir}key-file.browser.ts`;
        return null;
      },
    },
  ],
  build: {
    target: 'es2022',
    outDir: `${packageDir}dist/browser`,
    emptyOutDir: true,
    minify: false,
    lib: { entry: `${sdkDir}index.ts`, formats: ['es'], fileName: () => 'telemetry.js' },
  },
});
