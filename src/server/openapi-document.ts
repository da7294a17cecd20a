import { existsSync, readFileSync } from 'node:fs';

/**
 * docs/openapi.json, found from the package root as the schema migrations are: two levels
 * up from this file when run from src/ by vitest, three from dist/src/ when built.
 */
const DOCUMENT_URL =
  [new URL('../../docs/openapi.json', import.meta.url), new URL('../../../docs/openapi.json', import.meta.url)].find((u) => existsSync(u)) ??
  new URL('../../docs/openapi.json', import.meta.url);

/**
 * Reads the document once, at start, and checks it parses: a receiver that would answer
 * `GET /openapi.json` with a broken document refuses to start instead.
 */
export function loadOpenApiDocument(): string {
  let text: string;
  try {
    text = readFileSync(DOCUMENT_URL, 'utf8');
  } catch (err) {
    throw new Error(`docs/openapi.json is missing from the installation (${(err as Error).message})`);
  }
  JSON.parse(text);
  return text;
}
