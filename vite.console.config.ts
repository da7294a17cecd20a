/**
 * Builds the console page (src/console/page) into dist/console, which the receiver serves at
 * /console/ (src/console/static-route.ts). The output suits the page's strict
 * Content-Security-Policy: no inline script (no module-preload polyfill), no data: URIs.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src/console/page/', import.meta.url)),
  base: '/console/',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/console/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
