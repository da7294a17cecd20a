import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configMarkdown, SPEC } from '../../src/config.js';
import { EVENT_ERROR_CODES, REQUEST_ERRORS } from '../../src/protocol/index.js';

/** The README and the protocol describe the project as it is. */

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
const protocol = await readFile(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

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

  it('every docs/protocol.md §6 code exists with the status it names', () => {
    const table = protocol.slice(protocol.indexOf('## 6.'));
    for (const line of table.split('\n')) {
      const m = /^\| (\d{3}) \| (.+?) \|/.exec(line);
      if (m === null) continue;
      // The cell lists codes, then notes in parentheses such as "(with `rejected`)".
      for (const code of m[2]?.split('(')[0]?.match(/`([a-z_]+)`/g) ?? []) {
        const name = code.slice(1, -1) as keyof typeof REQUEST_ERRORS;
        expect(REQUEST_ERRORS[name]?.status, name).toBe(Number(m[1]));
      }
    }
    for (const code of EVENT_ERROR_CODES) expect(protocol).toContain(`\`${code}\``);
  });
});
