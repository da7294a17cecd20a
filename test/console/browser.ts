/**
 * Debian's Chromium driven by playwright-core (never a browser download), with what a page
 * did recorded: console errors, uncaught exceptions, Content-Security-Policy violations and
 * every URL it requested.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * The browser globals the tests' page functions touch. The test program is compiled
 * without the DOM library (the receiver's sources must stay DOM-free), so they are named here.
 */
export interface PageElement {
  tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

export interface PageWindow {
  sessionStorage: { length: number; key(i: number): string | null; getItem(key: string): string | null };
  localStorage: { length: number };
  document: {
    cookie: string;
    activeElement: PageElement | null;
    addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
  };
  cspViolations?: string[];
  maxLag?: number;
}

export interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

/** The page's global object, for functions that run inside the page. */
export const pageWindow = (): PageWindow => globalThis as unknown as PageWindow;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Console messages of type error, uncaught exceptions and CSP violations, as text. */
  problems: string[];
  requests: string[];
  /** Violations reported by the page's own `securitypolicyviolation` events. */
  violations(): Promise<string[]>;
}

export async function openWatchedPage(browser: Browser, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  // Injected by the browser's protocol, not by the page, so the policy does not apply to it.
  await context.addInitScript(() => {
    const w = globalThis as unknown as PageWindow;
    const seen: string[] = [];
    w.cspViolations = seen;
    w.document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return {
    context,
    page,
    problems,
    requests,
    violations: () => page.evaluate(() => (globalThis as unknown as PageWindow).cspViolations ?? []),
  };
}
