import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { EventIdCodec } from '../../src/stream/event-ids.js';

const codec = new EventIdCodec(randomBytes(32));
const at = Date.UTC(2026, 11, 7, 10, 0, 0);

it('decodes what it encoded, and shares one MAC among the events of a transaction sent together', () => {
  const a = codec.encode({ xid: 123_456_789n, source: 0, ordinal: 0 }, at);
  const b = codec.encode({ xid: 123_456_789n, source: 1, ordinal: 41 }, at);
  expect(codec.decode(a)).toEqual({ position: { xid: 123_456_789n, source: 0, ordinal: 0 }, sentAtMs: at });
  expect(codec.decode(b)).toEqual({ position: { xid: 123_456_789n, source: 1, ordinal: 41 }, sentAtMs: at });
  expect(a.slice(a.lastIndexOf('.'))).toBe(b.slice(b.lastIndexOf('.')));
  expect(codec.encode({ xid: 123_456_790n, source: 0, ordinal: 0 }, at).slice(-16)).not.toBe(a.slice(-16));
});

it('refuses an id whose transaction or send time was changed, or made with another secret', () => {
  const id = codec.encode({ xid: 1000n, source: 0, ordinal: 3 }, at);
  const [xid, source, ordinal, sent, mac] = id.split('.') as [string, string, string, string, string];
  expect(codec.decode([(1001).toString(36), source, ordinal, sent, mac].join('.'))).toBeNull();
  expect(codec.decode([xid, source, ordinal, (at + 60_000).toString(36), mac].join('.'))).toBeNull();
  expect(new EventIdCodec(randomBytes(32)).decode(id)).toBeNull();
  // Within its transaction the resume point may move: that reads nothing more than the id allows.
  expect(codec.decode([xid, source, '0', sent, mac].join('.'))?.position).toEqual({ xid: 1000n, source: 0, ordinal: 0 });
});
