/**
 * The console end to end in headless Chromium: sign-in, the agents list, linking by code,
 * the agent page's exact figures against SQL over the raw rows, charts, the live feed
 * (within a second, and resumed without loss after a dropped connection), acknowledging
 * an alert, history pages, keyboard-only use, the security policy, and a burst of events.
 * Everything runs on the real receiver: data goes in as signed batches to /v1/agent, as
 * producers send it, and the page, the read API and the stream come from the same server.
 */
import type { Browser, Page } from 'playwright-core';
import { AgentReadClient, keypairFromSecretKey } from '../../src/sdk/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactionEvent, newAgent, postAgentBatch, telemetryEvent, type CloudEvent, type TestAgent } from '../helpers/agent.js';
import { launchChromium, openWatchedPage, type PageCanvas, type PageWindow, type WatchedPage } from './browser.js';
import { startConsoleServer, type ConsoleServer } from './console-server.js';

const TENANT = 'console-tenant';
// Two payments of 2^53 + 1 atomic units: their sum cannot be held exactly by a float.
const BIG = '9007199254740993';

let server: ConsoleServer;
let browser: Browser;
let watched: WatchedPage;
let page: Page;
let agent: TestAgent;
let sentInteractions = 0;

async function send(events: CloudEvent[]): Promise<void> {
  const r = await postAgentBatch(server.receiver.url, agent, events);
  expect(r.status, r.text).toBe(202);
}

async function storedCount(): Promise<number> {
  const { rows } = await server.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM agent_interactions WHERE agent_id = $1', [agent.agentId]);
  return Number(rows[0]?.n);
}

async function untilStored(n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await storedCount()) < n) {
    if (Date.now() > deadline) throw new Error(`only ${await storedCount()} of ${n} interactions stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function interactions(list: { vendor: string; amount: string; success?: boolean }[]): Promise<void> {
  await send(list.map((i) => interactionEvent(agent.agentId, { data: { vendor_id: i.vendor, amount_atomic: i.amount, success: i.success ?? true, ...(i.success === false ? { error_type: 'timeout', error_message: 'upstream timed out' } : {}) } })));
  sentInteractions += list.length;
}

const cardValue = (field: string): Promise<string> => page.locator(`.card[data-field="${field}"] .value`).innerText();

async function signIn(p: Page, key: string): Promise<void> {
  await p.goto(`${server.url}/console/`);
  await p.getByLabel('API key (scope read or admin)').fill(key);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
}

beforeAll(async () => {
  server = await startConsoleServer(TENANT);
  browser = await launchChromium();
  watched = await openWatchedPage(browser);
  page = watched.page;
  agent = newAgent();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('console', () => {
  it('is served at /console/ with a strict policy, and signs in with a read key kept in this tab only', async () => {
    const res = await page.goto(`${server.url}/console/`);
    expect(res?.status()).toBe(200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');

    await page.getByLabel('API key (scope read or admin)').fill('mp_test_not_a_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('.sign-in .error').innerText()).toContain('not known');

    await page.getByLabel('API key (scope read or admin)').fill(server.keys.read);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    const stored = await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow;
      const session: string[] = [];
      for (let i = 0; i < w.sessionStorage.length; i++) session.push(w.sessionStorage.getItem(w.sessionStorage.key(i) ?? '') ?? '');
      return { session, local: w.localStorage.length, cookie: w.document.cookie };
    });
    expect(stored).toEqual({ session: [server.keys.read], local: 0, cookie: '' });
    expect(page.url()).not.toContain(server.keys.read);
  });

  it('links an agent by the code it obtained, with an admin key only', async () => {
    // The agent asks for its code through the SDK, as an agent's owner would have it do.
    const client = new AgentReadClient({ receiverUrl: server.directUrl, signer: keypairFromSecretKey(agent.secretKey) });
    const { code } = await client.linkInit('weather-bot');
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);

    await page.getByLabel('Link code').fill(code);
    await page.getByRole('button', { name: 'Link agent' }).click();
    await expect.poll(() => page.locator('#link-result').innerText()).toBe('Linking needs an admin key.');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key (scope read or admin)').waitFor();
    await signIn(page, server.keys.admin);
    await page.getByLabel('Link code').fill(code.toLowerCase());
    await page.getByRole('button', { name: 'Link agent' }).click();
    await expect.poll(() => page.locator('#link-result').innerText()).toBe('Linked weather-bot.');
    await page.getByRole('link', { name: 'weather-bot' }).waitFor();
  });

  it('lists the agent with its exact balance, runway and open alert once data arrives', async () => {
    await interactions([
      { vendor: 'vendor-a', amount: BIG },
      { vendor: 'vendor-a', amount: BIG },
      { vendor: 'vendor-b', amount: '1000' },
      { vendor: 'vendor-b', amount: '1000' },
      { vendor: 'vendor-b', amount: '1000', success: false },
    ]);
    // Below the default 5 USDC threshold: a low_balance alert.
    await send([telemetryEvent(agent.agentId, { data: { wallet: { sol_balance_lamports: 1_500_000_000, usdc_balance_atomic: 1_234_567, low_balance_warnings: 1 } } })]);
    await untilStored(5);
    const deadline = Date.now() + 10_000;
    while ((await server.pool.query('SELECT 1 FROM agent_telemetry WHERE agent_id = $1', [agent.agentId])).rowCount === 0) {
      if (Date.now() > deadline) throw new Error('telemetry not stored');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The receiver evaluates alerts after each commit (docs/read-api.md §5: within 2 s).
    const firingBy = Date.now() + 5000;
    while ((await server.pool.query(`SELECT 1 FROM agent_alerts WHERE agent_id = $1 AND state = 'firing'`, [agent.agentId])).rowCount !== 3) {
      if (Date.now() > firingBy) throw new Error('the alerts did not fire');
      await new Promise((r) => setTimeout(r, 50));
    }

    await page.reload();
    const row = page.locator(`tr[data-agent-id="${agent.agentId}"]`);
    await expect.poll(() => row.locator('[data-field="balance"]').innerText()).toBe('1.234567 USDC');
    // The low balance, a runway under 24 h and a day's spend far over 100 USDC: three alerts.
    const firing = await server.pool.query<{ type: string }>(`SELECT type FROM agent_alerts WHERE agent_id = $1 AND state = 'firing' ORDER BY type`, [agent.agentId]);
    expect(firing.rows.map((r) => r.type)).toEqual(['low_balance', 'runway', 'spend_limit']);
    expect(await row.locator('[data-field="open-alerts"]').innerText()).toBe('⚠ 3');
    // A 24 h burn of ~18 billion USDC against 1.23 USDC: no runway left.
    expect(await row.locator('[data-field="runway"]').innerText()).toBe('0.00 h');
    await page.screenshot({ path: '/tmp/console-agents.png', fullPage: true });
  });

  it('shows the agent page cards and vendors exactly as SQL over the raw rows says', async () => {
    await page.getByRole('link', { name: 'weather-bot' }).click();
    await page.getByRole('heading', { level: 1 }).filter({ hasText: 'weather-bot' }).waitFor();
    const { rows } = await server.pool.query<{ n: string; ok: string; spend: string }>(
      `SELECT count(*)::text AS n, count(*) FILTER (WHERE success)::text AS ok, sum(amount_atomic)::text AS spend FROM agent_interactions WHERE agent_id = $1`,
      [agent.agentId],
    );
    expect(rows[0]).toEqual({ n: '5', ok: '4', spend: '18014398509484986' });
    await expect.poll(() => cardValue('requests')).toBe('5');
    expect(await cardValue('spend')).toBe('18,014,398,509.484986 USDC');
    expect(await page.locator('.card[data-field="spend"] .detail').innerText()).toBe('18014398509484986 atomic units');
    expect(await cardValue('success-rate')).toBe('80.00 %');
    expect(await cardValue('balance')).toBe('1.234567 USDC');
    expect(await cardValue('latency')).toBe('42 ms / 42 ms');
    expect(await cardValue('runway')).toBe('0.00 h');

    const vendorA = page.locator('tr[data-vendor="vendor-a"]');
    expect(await vendorA.locator('[data-field="spend"]').innerText()).toBe('18,014,398,509.481986 USDC');
    expect(await vendorA.locator('[data-field="requests"]').innerText()).toBe('2');
    const vendorB = page.locator('tr[data-vendor="vendor-b"]');
    expect(await vendorB.locator('[data-field="spend"]').innerText()).toBe('0.003000 USDC');
    expect(await vendorB.locator('[data-field="failed"]').innerText()).toBe('1');
    expect(await vendorB.locator('[data-field="success-rate"]').innerText()).toBe('66.67 %');
  });

  it('draws the spend, requests, p99 and balance charts from the data', async () => {
    for (const id of ['chart-spend', 'chart-requests', 'chart-p99', 'chart-balance']) {
      const figure = page.locator(`#${id}`);
      await expect.poll(() => figure.getAttribute('data-points')).not.toBeNull();
      expect(Number(await figure.getAttribute('data-points')), id).toBeGreaterThan(0);
      // uPlot draws series and axes on one canvas: some pixels must carry the series colour.
      const painted = await figure.locator('canvas').evaluate((el: unknown) => {
        const c = el as PageCanvas;
        const px = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        if (px !== undefined) for (let i = 3; i < px.length; i += 4) if ((px[i] ?? 0) > 0) n++;
        return n;
      });
      expect(painted, id).toBeGreaterThan(100);
    }
    expect(await page.locator('#chart-spend-summary').innerText()).toContain('18,014,398,509.484986 USDC spent');
  });

  it('shows a newly stored interaction in the live feed within a second, and the cards follow exactly', async () => {
    await expect.poll(() => page.locator('.feed-status').getAttribute('data-status')).toBe('live');
    const event = interactionEvent(agent.agentId, { data: { vendor_id: 'vendor-live', amount_atomic: '250000' } });
    const nonce = String(event.data.nonce);
    const started = performance.now();
    await send([event]);
    sentInteractions++;
    await page.locator(`.feed-table tr[data-nonce="${nonce}"]`).waitFor({ timeout: 5000 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000);
    expect(await page.locator('.feed-table tr[data-nonce="' + nonce + '"]').innerText()).toContain('0.250000 USDC');
    await expect.poll(() => cardValue('requests')).toBe('6');
    expect(await cardValue('spend')).toBe('18,014,398,509.734986 USDC');
  });

  it('resumes the live feed after the connection drops, without losing or repeating a row', async () => {
    const before = server.proxy.openings.length;
    expect(server.proxy.dropAll()).toBeGreaterThan(0);
    const missed = [0, 1, 2].map(() => interactionEvent(agent.agentId, { data: { vendor_id: 'vendor-b', amount_atomic: '1000' } }));
    await send(missed);
    sentInteractions += 3;
    for (const e of missed) await page.locator(`.feed-table tr[data-nonce="${String(e.data.nonce)}"]`).waitFor({ timeout: 15_000 });
    // One event for the earlier interaction, three caught up after the drop, none twice.
    await expect.poll(() => page.locator('[data-field="feed-count"]').innerText()).toBe('4');
    await expect.poll(() => page.locator('.feed-status').getAttribute('data-status')).toBe('live');
    const reconnects = server.proxy.openings.slice(before).filter((o) => o.startsWith('GET /v1/agent/events'));
    expect(reconnects.some((o) => /^last-event-id: \S+/im.test(o) || /[?&]last_event_id=/.test(o.split('\r\n')[0] ?? ''))).toBe(true);
    await expect.poll(() => cardValue('requests')).toBe('9');
  });

  it('acknowledges the low-balance alert', async () => {
    const alert = page.locator('li.alert[data-type="low_balance"]');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/Low balance — Firing/);
    await alert.getByRole('button', { name: 'Acknowledge the low balance alert' }).click();
    await alert.locator('[data-field="acknowledged"]').waitFor();
    const { rows } = await server.pool.query<{ acked: boolean }>(`SELECT acknowledged_at IS NOT NULL AS acked FROM agent_alerts WHERE agent_id = $1 AND type = 'low_balance'`, [agent.agentId]);
    expect(rows).toEqual([{ acked: true }]);
  });

  it('pages through the whole history, each row once', async () => {
    const more = Array.from({ length: 30 }, (_, i) => ({ vendor: 'vendor-c', amount: String(i + 1) }));
    await interactions(more);
    await untilStored(sentInteractions);
    const history = page.locator('section[aria-labelledby="history-title"]');
    // Each click starts a load at once (aria-busy true); the page is read when it has ended.
    const settled = (): Promise<void> => expect.poll(() => history.getAttribute('aria-busy')).toBe('false');
    await history.getByRole('button', { name: 'Latest' }).click();
    const seen: string[] = [];
    for (let p = 1; ; p++) {
      await settled();
      expect(await history.locator('.page-label').innerText()).toBe(`Page ${p}`);
      seen.push(...(await history.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-nonce') ?? ''))));
      const older = history.getByRole('button', { name: 'Older →' });
      if (await older.isDisabled()) break;
      await older.click();
    }
    const { rows } = await server.pool.query<{ nonce: string }>('SELECT nonce::text AS nonce FROM agent_interactions WHERE agent_id = $1 ORDER BY time DESC, nonce DESC', [agent.agentId]);
    expect(seen).toEqual(rows.map((r) => r.nonce));
    expect(seen.length).toBe(39);
    await history.getByRole('button', { name: '← Newer' }).click();
    await settled();
    expect(await history.locator('.page-label').innerText()).toBe('Page 1');
    await page.screenshot({ path: '/tmp/console-agent.png', fullPage: true });
  });

  it('stays responsive with about 1000 events a second and ends on the exact totals', async () => {
    await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow & { maxLag: number };
      w.maxLag = 0;
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        w.maxLag = Math.max(w.maxLag, now - last - 50);
        last = now;
      }, 50);
    });
    const feedBefore = Number(await page.locator('[data-field="feed-count"]').innerText());
    const batches = 30;
    const perBatch = 100;
    const posts: Promise<void>[] = [];
    for (let b = 0; b < batches; b++) {
      posts.push(send(Array.from({ length: perBatch }, () => interactionEvent(agent.agentId, { data: { vendor_id: 'vendor-burst', amount_atomic: '7' } }))));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(posts);
    sentInteractions += batches * perBatch;
    await untilStored(sentInteractions);
    await expect.poll(() => page.locator('[data-field="feed-count"]').innerText(), { timeout: 20_000 }).toBe(String(feedBefore + batches * perBatch));
    await expect.poll(() => cardValue('requests'), { timeout: 10_000 }).toBe(sentInteractions.toLocaleString('en-US'));
    const { rows } = await server.pool.query<{ spend: string }>('SELECT sum(amount_atomic)::text AS spend FROM agent_interactions WHERE agent_id = $1', [agent.agentId]);
    expect(await page.locator('.card[data-field="spend"] .detail').innerText()).toBe(`${rows[0]?.spend} atomic units`);
    const lag = await page.evaluate(() => (globalThis as unknown as PageWindow).maxLag ?? Infinity);
    expect(lag).toBeLessThan(500);
  }, 60_000);

  it('reaches the main controls with the keyboard alone', async () => {
    // A phone-sized window: the layout must keep every control reachable there too.
    const k = await openWatchedPage(browser, { width: 390, height: 844 });
    try {
      const p = k.page;
      await p.goto(`${server.url}/console/`);
      await p.keyboard.type(server.keys.read);
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
      const describeFocus = (): Promise<string> =>
        p.evaluate(() => {
          const el = (globalThis as unknown as PageWindow).document.activeElement;
          if (el === null) return '';
          return `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}`;
        });
      let found = false;
      for (let i = 0; i < 20 && !found; i++) {
        await p.keyboard.press('Tab');
        found = (await describeFocus()) === 'a:weather-bot';
      }
      expect(found).toBe(true);
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { level: 1 }).filter({ hasText: 'weather-bot' }).waitFor();
      await p.locator('.card[data-field="requests"]').waitFor();
      await p.locator('section[aria-labelledby="history-title"] .page-label').filter({ hasText: 'Page 1' }).waitFor();
      const reached: string[] = [];
      for (let i = 0; i < 60; i++) {
        await p.keyboard.press('Tab');
        const f = await describeFocus();
        reached.push(f);
        if (f === 'button:7d') {
          await p.keyboard.press('Enter');
          expect(await p.locator('button[data-range="7d"]').getAttribute('aria-pressed')).toBe('true');
        }
      }
      for (const control of ['a:← All agents', 'button:1h', 'button:7d', 'button:30d', 'button:Older →', 'button:Latest']) expect(reached).toContain(control);
      expect(p.url()).toMatch(/range=7d$/);
      await p.screenshot({ path: '/tmp/console-agent-phone.png', fullPage: true });
      expect(k.problems).toEqual([]);
      expect(await k.violations()).toEqual([]);
      await k.context.close();
    } finally {
      await k.context.close().catch(() => undefined);
    }
  });

  it('logged no error or policy violation and asked no host but the receiver', async () => {
    // Chromium logs each failed request; these three the test caused on purpose, and nothing else may appear.
    expect(watched.problems).toEqual([
      'console: Failed to load resource: the server responded with a status of 401 (Unauthorized)',
      'console: Failed to load resource: the server responded with a status of 403 (Forbidden)',
      'console: Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING',
    ]);
    expect(await watched.violations()).toEqual([]);
    const origin = new URL(server.url).origin;
    expect(watched.requests.length).toBeGreaterThan(10);
    expect(watched.requests.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(watched.requests.filter((u) => u.includes(server.keys.read) || u.includes(server.keys.admin))).toEqual([]);
  });
});
