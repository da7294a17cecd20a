/**
 * Headers every console answer carries. The policy allows only the receiver's own origin:
 * scripts and styles come from files (no inline code, no eval), data only from the
 * receiver's API and stream, and nothing may frame the page or be loaded from elsewhere.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['content-security-policy', CONSOLE_CSP],
  ['x-content-type-options', 'nosniff'],
  // The console's URLs carry agent ids: they are nobody else's business.
  ['referrer-policy', 'no-referrer'],
  ['x-frame-options', 'DENY'],
  ['cross-origin-opener-policy', 'same-origin'],
  ['cross-origin-resource-policy', 'same-origin'],
];
