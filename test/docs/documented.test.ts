import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configMarkdown, SPEC } from '../../src/config.js';
import { EVENT_ERROR_CODES, REQUEST_ERRORS } from '../../src/protocol/index.js';

/** The README and the protocol describe the project as it is. */

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
const protocol = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const readApi = await readFile(new URL('../../docs/read-api.md', import.meta.url), 'utf8');

/** Codes and statuses of the rows `| 4xx | \`code\`, \`code\` (notes) | … |` of a table. */
function tableCodes(table: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of table.split('\n')) {
    const m = /^\| (\d{3}) \| (.+?) \|/.exec(line);
    if (m === null) continue;
    // The cell lists codes, then notes in parentheses such as "(with `rejected`)".
    for (const code of m[2]?.split('(')[0]?.match(/`([a-z_]+)`/g) ?? []) out.set(code.slice(1, -1), Number(m[1]));
  }
  return out;
}

const ingestTable = tableCodes(protocol.slice(protocol.indexOf('## 6.')));
const readTable = tableCodes(readApi.slice(readApi.indexOf('## Error codes')));

describe('documentation', () => {
  it('README carries the current configuration table (npm run docs rewrites it)', () => {
    expect(readme).toContain(configMarkdown());
    for (const spec of Object.values(SPEC)) expect(readme).toContain(`\`${spec.env}\``);
  });

  it('every error code the receiver answers with is in the README', () => {
    for (const code of [...Object.keys(REQUEST_ERRORS), ...EVENT_ERROR_CODES]) {
      if (code === 'not_found' || code === 'method_not_allowed') continue; // routing, outside the ingest contract
      expect(readme, code).toContain(`\`${code}\``);
    }
  });

  it('every code of docs/protocol.md §6 and of docs/read-api.md "Error codes" exists with the status it names', () => {
    expect(ingestTable.size).toBeGreaterThan(10);
    expect(readTable.size).toBeGreaterThan(5);
    for (const [code, status] of [...ingestTable, ...readTable]) {
      expect(REQUEST_ERRORS[code as keyof typeof REQUEST_ERRORS]?.status, code).toBe(status);
    }
    for (const code of EVENT_ERROR_CODES) expect(protocol).toContain(`\`${code}\``);
  });

  it('every code of the one error table is documented in one of those tables, with its status', () => {
    for (const [code, { status }] of Object.entries(REQUEST_ERRORS)) {
      expect(ingestTable.get(code) ?? readTable.get(code), `${code} in docs/protocol.md §6 or docs/read-api.md "Error codes"`).toBe(status);
    }
  });
});
