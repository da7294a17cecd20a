import { open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_PAYLOAD_BYTES, Spool, SpoolError, type SpoolOptions } from '../../../src/sinks/spool/index.js';
import { CURSOR_FILE_NAME } from '../../../src/sinks/spool/ack-cursor.js';
import { CRC_SLICE_BYTES } from '../../../src/sinks/spool/crc32.js';
import { FILE_HEADER_BYTES, REC_HEADER_BYTES } from '../../../src/sinks/spool/record-format.js';
import { captureLog, drain, makeTempDir, payloadOf, removeTempDirs, segmentBytesOnDisk, segmentFiles, WARN } from './fixtures/spool-disk.js';

afterEach(removeTempDirs);

const KiB = 1024;
const MiB = 1024 * KiB;
const spools: Spool[] = [];
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.close()));
});

async function openSpool(options: Partial<SpoolOptions> & { dir: string }): Promise<Spool> {
  const spool = await Spool.open({ maxBytes: 64 * MiB, segmentBytes: 16 * MiB, ...options }, captureLog().log);
  spools.push(spool);
  return spool;
}

/** On-disk size of a record with a payload of `n` bytes. */
const rec = (n: number): number => REC_HEADER_BYTES + n;

describe('append, next, acknowledge', () => {
  it('returns records in append order, the same one until it is acknowledged', async () => {
    const spool = await openSpool({ dir: await makeTempDir() });
    expect(await spool.next()).toBeNull();
    for (let i = 0; i < 5; i++) expect(await spool.append(payloadOf(i, 100 + i))).toBe('ok');

    let previousId = 0;
    for (let i = 0; i < 5; i++) {
      const a = await spool.next();
      const b = await spool.next();
      expect(b).toBe(a);
      expect(a?.payload).toEqual(payloadOf(i, 100 + i));
      expect(a?.id).toBeGreaterThan(previousId);
      previousId = a?.id ?? NaN;
      await spool.acknowledge(previousId);
    }
    expect(await spool.next()).toBeNull();
  });

  it('keeps empty, sliced-checksum and multi-MiB payloads byte-exact', async () => {
    const spool = await openSpool({ dir: await makeTempDir(), segmentBytes: 1 * MiB });
    const sizes = [0, 1, CRC_SLICE_BYTES, CRC_SLICE_BYTES + 1, 5 * MiB + 3, 0];
    expect(await Promise.all(sizes.map((n, i) => spool.append(payloadOf(i, n))))).toEqual(sizes.map(() => 'ok'));
    const got = await drain(spool);
    expect(got.map((r) => r.payload.byteLength)).toEqual(sizes);
    got.forEach((r, i) => expect(Buffer.from(r.payload).equals(payloadOf(i, sizes[i] as number))).toBe(true));
  });

  it('gives concurrent appends ids in call order and shares syncs between them (group commit)', async () => {
    const spool = await openSpool({ dir: await makeTempDir() });
    await spool.append(payloadOf(-1, 10)); // the segment file exists before we count
    const probe = await open(join(await makeTempDir(), 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const syncs = vi.spyOn(proto, 'datasync');
    try {
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => spool.append(payloadOf(i, 1000))));
      expect(results.every((r) => r === 'ok')).toBe(true);
      // The first append goes out alone; the 63 queued behind it share the next sync(s).
      expect(syncs.mock.calls.length).toBeGreaterThan(0);
      expect(syncs.mock.calls.length).toBeLessThan(10);
    } finally {
      syncs.mockRestore();
    }
    const got = await drain(spool);
    expect(got.slice(1).map((r) => r.payload)).toEqual(Array.from({ length: 64 }, (_, i) => payloadOf(i, 1000)));
    expect(got.map((r) => r.id)).toEqual([...got.map((r) => r.id)].sort((a, b) => a - b));
  });

  it('treats a repeated acknowledgement as done and rejects any other id', async () => {
    const spool = await openSpool({ dir: await makeTempDir() });
    await spool.append(payloadOf(1, 10));
    await spool.append(payloadOf(2, 10));
    const first = await spool.next();
    if (first === null) throw new Error('no record');
    await expect(spool.acknowledge(first.id + 1)).rejects.toMatchObject({ code: 'spool_ack_out_of_order' });
    await spool.acknowledge(first.id);
    await spool.acknowledge(first.id);
    expect((await spool.next())?.payload).toEqual(payloadOf(2, 10));
    await expect(spool.acknowledge(first.id + 5)).rejects.toBeInstanceOf(SpoolError);
  });
});

describe('segments', () => {
  it('rolls to a new segment before passing segmentBytes and deletes a segment once all of it is acknowledged', async () => {
    const dir = await makeTempDir();
    // Three 1000-byte records fit a 4 KiB segment (32 + 3 * 1032 = 3128), a fourth does not.
    const spool = await openSpool({ dir, segmentBytes: 4 * KiB });
    for (let i = 0; i < 10; i++) await spool.append(payloadOf(i, 1000));
    const files = await segmentFiles(dir);
    expect(files.map((f) => f.size)).toEqual([FILE_HEADER_BYTES + 3 * rec(1000), FILE_HEADER_BYTES + 3 * rec(1000), FILE_HEADER_BYTES + 3 * rec(1000), FILE_HEADER_BYTES + rec(1000)]);
    expect(spool.stats()).toMatchObject({ segments: 4, records: 10, bytes: await segmentBytesOnDisk(dir) });

    await drain(spool, 2);
    expect((await segmentFiles(dir)).length).toBe(4);
    await drain(spool, 1);
    expect((await segmentFiles(dir)).map((f) => f.name)).toEqual(files.slice(1).map((f) => f.name));
    await drain(spool);
    // The active segment stays (it names the next id), fully acknowledged.
    expect((await segmentFiles(dir)).map((f) => f.name)).toEqual([files[3]?.name]);
    expect(spool.stats()).toMatchObject({ segments: 1, records: 0, oldestAppendedAt: null, bytes: FILE_HEADER_BYTES + rec(1000) });
  });

  it('puts a record bigger than segmentBytes alone in its own segment', async () => {
    const dir = await makeTempDir();
    const spool = await openSpool({ dir, segmentBytes: 4 * KiB });
    await spool.append(payloadOf(1, 10));
    await spool.append(payloadOf(2, 10 * KiB));
    await spool.append(payloadOf(3, 10));
    expect((await segmentFiles(dir)).map((f) => f.size)).toEqual([FILE_HEADER_BYTES + rec(10), FILE_HEADER_BYTES + rec(10 * KiB), FILE_HEADER_BYTES + rec(10)]);
    expect((await drain(spool)).map((r) => r.payload.byteLength)).toEqual([10, 10 * KiB, 10]);
  });
});

describe('maxBytes', () => {
  it("answers 'full' without writing, and accepts again once acknowledged segments are reclaimed", async () => {
    const dir = await makeTempDir();
    const segmentBytes = FILE_HEADER_BYTES + 2 * rec(1000);
    // Three full segments, plus the empty next segment file made ahead of the roll.
    const maxBytes = 3 * segmentBytes + FILE_HEADER_BYTES;
    const spool = await openSpool({ dir, segmentBytes, maxBytes });
    for (let i = 0; i < 6; i++) expect(await spool.append(payloadOf(i, 1000))).toBe('ok');
    expect(spool.stats().bytes).toBe(maxBytes);
    expect(await spool.append(payloadOf(99, 1000))).toBe('full');
    expect(await spool.append(new Uint8Array(0))).toBe('full');
    expect(await segmentBytesOnDisk(dir)).toBe(maxBytes);
    expect(spool.stats().records).toBe(6);

    await drain(spool, 1);
    expect(await spool.append(payloadOf(6, 1000))).toBe('full'); // its segment still holds record 1
    await drain(spool, 1);
    expect(await spool.append(payloadOf(6, 1000))).toBe('ok');
    expect(spool.stats().bytes).toBeLessThanOrEqual(maxBytes);
    expect((await drain(spool)).map((r) => r.payload)).toEqual([2, 3, 4, 5, 6].map((i) => payloadOf(i, 1000)));
  });

  it("counts appends still queued, so concurrent appends cannot overshoot", async () => {
    const dir = await makeTempDir();
    const maxBytes = FILE_HEADER_BYTES + 5 * rec(1000);
    const spool = await openSpool({ dir, maxBytes, segmentBytes: 64 * KiB });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => spool.append(payloadOf(i, 1000))));
    expect(results).toEqual([...Array<string>(5).fill('ok'), ...Array<string>(7).fill('full')]);
    expect(await segmentBytesOnDisk(dir)).toBe(maxBytes);
  });

  it('replaces a fully acknowledged active segment when only its space is missing', async () => {
    const dir = await makeTempDir();
    // maxBytes below segmentBytes: the active segment alone can fill the spool.
    const maxBytes = FILE_HEADER_BYTES + 4 * rec(1000);
    const spool = await openSpool({ dir, maxBytes, segmentBytes: 1 * MiB });
    for (let i = 0; i < 4; i++) await spool.append(payloadOf(i, 1000));
    expect(await spool.append(payloadOf(4, 1000))).toBe('full');
    await drain(spool, 3);
    expect(await spool.append(payloadOf(4, 1000))).toBe('full'); // record 3 is not acknowledged
    await drain(spool);
    const before = await segmentFiles(dir);
    expect(await spool.append(payloadOf(4, 1000))).toBe('ok');
    const after = await segmentFiles(dir);
    expect(after).toHaveLength(1);
    expect(after[0]?.name).not.toBe(before[0]?.name);
    expect(after[0]?.size).toBe(FILE_HEADER_BYTES + rec(1000));
    expect((await spool.next())?.payload).toEqual(payloadOf(4, 1000));
  });

  it('rejects payloads over the format limit as a programming error', async () => {
    const spool = await openSpool({ dir: await makeTempDir() });
    const huge = { byteLength: MAX_PAYLOAD_BYTES + 1 } as Uint8Array;
    await expect(spool.append(huge)).rejects.toBeInstanceOf(RangeError);
  });
});

describe('restart', () => {
  it('keeps unacknowledged records in order, replays none acknowledged, and keeps ids increasing', async () => {
    const dir = await makeTempDir();
    const first = await Spool.open({ dir, maxBytes: 64 * MiB, segmentBytes: 4 * KiB }, captureLog().log);
    for (let i = 0; i < 8; i++) await first.append(payloadOf(i, 700));
    const acked = await drain(first, 5);
    await first.close();

    const second = await openSpool({ dir, segmentBytes: 4 * KiB });
    expect(second.stats().records).toBe(3);
    await second.append(payloadOf(8, 700));
    const rest = await drain(second);
    expect(rest.map((r) => r.payload)).toEqual([5, 6, 7, 8].map((i) => payloadOf(i, 700)));
    const ids = [...acked, ...rest].map((r) => r.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('continues ids above the acknowledged ones after everything was drained and reclaimed', async () => {
    const dir = await makeTempDir();
    const first = await Spool.open({ dir, maxBytes: 64 * MiB, segmentBytes: 4 * KiB }, captureLog().log);
    for (let i = 0; i < 6; i++) await first.append(payloadOf(i, 1500));
    const acked = await drain(first);
    await first.close();
    const second = await openSpool({ dir, segmentBytes: 4 * KiB });
    await second.append(payloadOf(9, 1));
    const next = await second.next();
    expect(next?.id).toBeGreaterThan(acked.at(-1)?.id ?? Infinity);
  });

  it('replays everything still on disk when the cursor file is unreadable, and says so', async () => {
    const dir = await makeTempDir();
    const first = await Spool.open({ dir, maxBytes: 64 * MiB, segmentBytes: 64 * KiB }, captureLog().log);
    for (let i = 0; i < 4; i++) await first.append(payloadOf(i, 100));
    await drain(first, 3);
    await first.close();
    await writeFile(join(dir, CURSOR_FILE_NAME), Buffer.from('not a cursor at all'));
    const { log, lines } = captureLog();
    const second = await Spool.open({ dir, maxBytes: 64 * MiB, segmentBytes: 64 * KiB }, log);
    spools.push(second);
    expect(lines.some((l) => l.level === WARN && /cursor/.test(l.msg))).toBe(true);
    expect((await drain(second)).map((r) => r.payload)).toEqual([0, 1, 2, 3].map((i) => payloadOf(i, 100)));
  });

  it('close() finishes queued appends, then refuses new calls', async () => {
    const spool = await Spool.open({ dir: await makeTempDir(), maxBytes: 64 * MiB, segmentBytes: 16 * MiB }, captureLog().log);
    const pending = Array.from({ length: 20 }, (_, i) => spool.append(payloadOf(i, 2 * MiB * (i % 2))));
    await spool.close();
    expect(await Promise.all(pending)).toEqual(Array<string>(20).fill('ok'));
    await expect(spool.append(payloadOf(0, 1))).rejects.toMatchObject({ code: 'spool_closed' });
    await expect(spool.next()).rejects.toMatchObject({ code: 'spool_closed' });
    await expect(spool.acknowledge(1)).rejects.toMatchObject({ code: 'spool_closed' });
    await spool.close();
  });
});

describe('stats', () => {
  it('tracks bytes on disk, unacknowledged records, segments and the oldest record time', async () => {
    const dir = await makeTempDir();
    const spool = await openSpool({ dir, segmentBytes: 4 * KiB });
    expect(spool.stats()).toEqual({ bytes: FILE_HEADER_BYTES, records: 0, segments: 1, oldestAppendedAt: null, corruptRecordsSkipped: 0, corruptBytesSkipped: 0 });
    const t0 = Date.now();
    await spool.append(payloadOf(1, 3000));
    const t1 = Date.now();
    await spool.append(payloadOf(2, 3000));
    const s = spool.stats();
    // Two segments with a record each, and the next one made ahead (past half a segment).
    expect(s).toMatchObject({ records: 2, segments: 3, bytes: await segmentBytesOnDisk(dir) });
    expect((await segmentFiles(dir)).length).toBe(3);
    expect(s.oldestAppendedAt).toBeGreaterThanOrEqual(t0);
    expect(s.oldestAppendedAt).toBeLessThanOrEqual(t1);
    const [first] = await drain(spool, 1);
    expect(spool.stats().oldestAppendedAt).toBeGreaterThanOrEqual(first?.appendedAt ?? Infinity);
    expect(spool.stats()).toMatchObject({ records: 1, segments: 2, bytes: await segmentBytesOnDisk(dir) });
  });
});

describe('options', () => {
  it.each([
    { segmentBytes: 10 },
    { segmentBytes: 1.5 * KiB + 0.5 },
    { maxBytes: 0 },
    { maxBytes: Number.NaN },
    { dir: '' },
  ])('rejects %o', async (bad) => {
    const dir = await makeTempDir();
    await expect(Spool.open({ dir, maxBytes: MiB, segmentBytes: 64 * KiB, ...bad }, captureLog().log)).rejects.toBeInstanceOf(RangeError);
  });

  it('creates a missing directory, nested', async () => {
    const dir = join(await makeTempDir(), 'a', 'b');
    const spool = await openSpool({ dir });
    expect((await readdir(dir)).sort()).toEqual(['0000000000000001.seg', CURSOR_FILE_NAME]);
    expect(spool.stats().segments).toBe(1);
  });
});
