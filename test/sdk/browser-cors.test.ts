/**
 * The SDK's browser build in a real browser (Debian's headless Chromium), on an origin other
 * than the receiver's: a page served from http://127.0.0.1:P (allowed by CORS_ORIGINS)
 * sends signed, gzipped events and they are stored; the same page from http://localhost:P
 * (another origin, not allowed) is blocked by the browser and nothing is stored. A page
 * whose clock is ten minutes slow gets its events in too: it reads the receiver's `Date`
 * from the 401 (exposed by CORS) and signs with it.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net/index.js';
import { keypairFromSecretKey } from '../../src/sdk/index.js';
import { launchChromium } from '../console/browser.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

const BUNDLE = new URL('../../packages/telemetry/dist/browser/telemetry.js', import.meta.url);

const PAGE = `<!doctype html><title>producer</title>
<script type="module">import * as sdk from '/telemetry.js'; globalThis.machpay = sdk;</script>`;

type Sdk = typeof import('../../src/sdk/index.js');
/** The page's globals the test touches (the test program is compiled without the DOM library). */
interface ProducerPage {
  machpay?: Sdk;
  location: { href: string };
}

/** What the page reports back from one emitter run. */
interface PageRun {
  sent: number;
  failed: number;
  errors: Record<string, number>;
  /** The last failure, as JSON: shown when a run fails. */
  lastError: string;
}

let db: TestDatabase;
let rx: RunningReceiver;
let pages: Server;
let pagePort: number;
let browser: Browser;

beforeAll(async () => {
  const bundle = await readFile(BUNDLE, 'utf8');
  pagePort = await freePort();
  pages = createServer((req, res) => {
    if (req.url === '/telemetry.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    // The page loads the bundle as a module from its own origin, as a site without a bundler would.
    else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  });
  pages.listen(pagePort, '127.0.0.1');
  await once(pages, 'listening');
  db = await createTestDatabase('sdk_browser');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn', CORS_ORIGINS: `http://127.0.0.1:${pagePort}` });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  pages?.close();
  await rx?.stop();
  await db?.drop();
});

/** Opens the page at `origin`, records one interaction with the bundled SDK, and returns the emitter's stats. */
async function sendFromPage(origin: string, seed: Uint8Array, vendorId: string, clockSkewMs = 0): Promise<PageRun> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    if (clockSkewMs !== 0) await page.clock.setFixedTime(Date.now() + clockSkewMs);
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => (globalThis as unknown as ProducerPage).machpay !== undefined);
    return await page.evaluate(
      async ({ receiverUrl, seed, vendorId }) => {
        const w = globalThis as unknown as ProducerPage;
        const sdk = w.machpay as Sdk;
        const emitter = new sdk.TelemetryEmitter({
          receiverUrl,
          keypair: sdk.keypairFromSecretKey(new Uint8Array(seed)),
          flushIntervalMs: 10,
          telemetryIntervalMs: 0,
          gzipMinBytes: 0,
          batchDeadlineMs: 3_000,
          retryInitialDelayMs: 100,
        });
        emitter.start();
        emitter.recordInteraction({ vendorId, success: true, latencyMs: 42, amountAtomic: 7n, requestUrl: w.location.href });
        const stats = await emitter.stop({ deadlineMs: 10_000 });
        return { sent: stats.sent, failed: stats.failed, errors: { ...stats.errors }, lastError: JSON.stringify(stats.lastError) };
      },
      { receiverUrl: rx.url, seed: [...seed], vendorId },
    );
  } finally {
    await context.close();
  }
}

async function storedVendors(agentId: string): Promise<string[]> {
  const rows = await query<{ vendor_id: string }>(db.url, 'SELECT vendor_id FROM agent_interactions WHERE agent_id = $1 ORDER BY vendor_id', [agentId]);
  return rows.map((r) => r.vendor_id);
}

describe('the SDK in a browser page on another origin', () => {
  it('sends signed events from an allowed origin, and is blocked from any other', async () => {
    const seed = new Uint8Array(32).fill(7);
    const agentId = keypairFromSecretKey(seed).agentId;

    const allowed = await sendFromPage(`http://127.0.0.1:${pagePort}`, seed, 'browser-allowed');
    expect(allowed).toMatchObject({ sent: 1, failed: 0 });

    const blocked = await sendFromPage(`http://localhost:${pagePort}`, seed, 'browser-blocked');
    expect(blocked.sent).toBe(0);
    expect(blocked.failed).toBe(1);
    // The browser refuses the preflight's answer: to the page it is a network error.
    expect(Object.keys(blocked.errors).join(',')).toMatch(/network/);

    expect(await storedVendors(agentId)).toEqual(['browser-allowed']);
  });

  it('corrects a page clock ten minutes slow from the Date header CORS exposes', async () => {
    const seed = new Uint8Array(32).fill(9);
    // Slow, not fast: an event time more than 5 minutes ahead is refused on its own (docs/protocol.md §2).
    const run = await sendFromPage(`http://127.0.0.1:${pagePort}`, seed, 'browser-skewed', -10 * 60_000);
    expect(run).toMatchObject({ sent: 1, failed: 0 });
    expect(run.errors['timestamp_out_of_window']).toBe(1);
    expect(await storedVendors(keypairFromSecretKey(seed).agentId)).toEqual(['browser-skewed']);
  });
});
