/**
 * The console (README.md here): a page for an agent's owner, built by Vite from `page/`
 * into `dist/console/` and served by the receiver at `/console/`.
 */
export { registerConsoleRoutes, consoleAssetsDir, CONSOLE_PREFIX, type ConsoleRouteOptions, type ConsoleRoutes } from './static-route.js';
export { CONSOLE_CSP } from './security-headers.js';
