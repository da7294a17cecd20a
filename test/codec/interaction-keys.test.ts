import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CopyBinaryWriter, interactionKeyRows } from '../../src/codec/index.js';

/**
 * The key rows the workers send beside agent_interactions rows: (time, agent_id, nonce) of
 * each row, in order, byte for byte what a writer of those three fields alone would make,
 * whatever the other fields hold (NULLs, long or non-ASCII text).
 */

interface Row {
  seconds: number;
  micros: number;
  agent: string;
  nonce: number;
  url: string | null;
}

function interactionRow(w: CopyBinaryWriter, r: Row): void {
  w.timestampField(r.seconds, r.micros);
  w.textField(r.agent);
  w.textField('vendor');
  if (r.url === null) w.nullField();
  else w.textField(r.url);
  w.nullField();
  w.int64Field(1000);
  w.nullField();
  w.int64Field(r.nonce);
  w.boolField(true);
  w.intField(42);
  w.nullField();
  w.nullField();
  w.nullField();
  w.endRow();
}

it('cuts (time, agent_id, nonce) out of every binary interaction row', () => {
  const row = fc.record({
    seconds: fc.integer({ min: 0, max: 4_000_000_000 }),
    micros: fc.integer({ min: 0, max: 999_999 }),
    agent: fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
    nonce: fc.maxSafeInteger(),
    url: fc.option(fc.string({ maxLength: 600 })),
  });
  fc.assert(
    fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
      const source = new CopyBinaryWriter(64);
      const expected = new CopyBinaryWriter(64);
      for (const r of rows) {
        interactionRow(source, r);
        expected.timestampField(r.seconds, r.micros);
        expected.textField(r.agent);
        expected.int64Field(r.nonce);
        expected.endRow();
      }
      expect(Buffer.from(interactionKeyRows(source.bytes(), source.rows))).toEqual(Buffer.from(expected.bytes()));
    }),
  );
});
