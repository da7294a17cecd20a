/**
 * Serves the built console at `/console/` on the receiver's own uWS app: files from memory,
 * gzip when the client takes it, ETags, and the security headers of security-headers.ts.
 * The page is one HTML document plus hashed assets; its views live in the URL's fragment,
 * so every other path under `/console/` is a 404.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { fileURLToPath } from 'node:url';
import { errorBody } from '../protocol/index.js';
import { sendError } from '../server/index.js';
import { loadConsoleAssets, type ConsoleAsset } from './console-assets.js';
import { CONSOLE_SECURITY_HEADERS } from './security-headers.js';

export interface ConsoleRouteOptions {
  /** The Vite build's output directory (holds index.html); default consoleAssetsDir(). */
  dir?: string;
}

export interface ConsoleRoutes {
  routes: readonly { method: 'get' | 'head'; pattern: string }[];
  /** Paths served under `/console/`, for logs and tests. */
  files: readonly string[];
}

export const CONSOLE_PREFIX = '/console/';

/** Where `npm run build` puts the console, next to the compiled receiver (`dist/console/`). */
export function consoleAssetsDir(): string {
  return fileURLToPath(new URL('../../console/', import.meta.url));
}

/** The index is revalidated on every load so a new build is picked up; hashed assets are cached for a year. */
function cacheControl(asset: ConsoleAsset): string {
  return asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function acceptsGzip(req: HttpRequest): boolean {
  return /\bgzip\b/i.test(req.getHeader('accept-encoding'));
}

function send(res: HttpResponse, req: HttpRequest, asset: ConsoleAsset, head: boolean): void {
  const notModified = req.getHeader('if-none-match') === asset.etag;
  const packed = asset.gzip !== null && acceptsGzip(req) ? asset.gzip : null;
  res.cork(() => {
    res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
    for (const [name, value] of CONSOLE_SECURITY_HEADERS) res.writeHeader(name, value);
    res.writeHeader('cache-control', cacheControl(asset));
    res.writeHeader('etag', asset.etag);
    if (asset.gzip !== null) res.writeHeader('vary', 'Accept-Encoding');
    if (notModified) {
      res.endWithoutBody();
      return;
    }
    res.writeHeader('content-type', asset.contentType);
    if (packed !== null) res.writeHeader('content-encoding', 'gzip');
    const body = packed ?? asset.body;
    if (head) res.endWithoutBody(body.length);
    else res.end(body);
  });
}

/** Adds `/console/` and its assets to `app` (register it before any catch-all route). */
export function registerConsoleRoutes(app: TemplatedApp, opts: ConsoleRouteOptions = {}): ConsoleRoutes {
  const assets = loadConsoleAssets(opts.dir ?? consoleAssetsDir());
  const index = assets.get('index.html');
  if (index === undefined) throw new Error('console index.html missing');
  const serve = (head: boolean) => (res: HttpResponse, req: HttpRequest) => {
    const path = req.getUrl().slice(CONSOLE_PREFIX.length);
    const asset = path === '' ? index : assets.get(path);
    if (asset === undefined || path === 'index.html') sendError(res, 'not_found', undefined, 0);
    else send(res, req, asset, head);
  };
  const redirect = (res: HttpResponse) => {
    res.cork(() => {
      res.writeStatus('308 Permanent Redirect').writeHeader('location', CONSOLE_PREFIX).endWithoutBody();
    });
  };
  app.get('/console', redirect);
  app.head('/console', redirect);
  app.get('/console/*', serve(false));
  app.head('/console/*', serve(true));
  app.any('/console/*', (res) => {
    res.cork(() => {
      res.writeStatus('405 Method Not Allowed').writeHeader('allow', 'GET, HEAD').writeHeader('content-type', 'application/json');
      res.end(errorBody('method_not_allowed'));
    });
  });
  return {
    routes: [
      { method: 'get', pattern: '/console' },
      { method: 'get', pattern: '/console/*' },
      { method: 'head', pattern: '/console' },
      { method: 'head', pattern: '/console/*' },
    ],
    files: [...assets.keys()].sort(),
  };
}
