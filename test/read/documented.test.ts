import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { READ_ERRORS } from '../../src/read/index.js';

/** docs/read-api.md "Error codes" lists every read code with the status the code answers with. */
it('documents every read error code with its status', async () => {
  const doc = await readFile(new URL('../../docs/read-api.md', import.meta.url), 'utf8');
  const table = doc.slice(doc.indexOf('## Error codes'));
  const listed = new Map<string, number>();
  for (const m of table.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)) listed.set(m[2] as string, Number(m[1]));
  for (const [code, { status }] of Object.entries(READ_ERRORS)) expect(listed.get(code), code).toBe(status);
});
