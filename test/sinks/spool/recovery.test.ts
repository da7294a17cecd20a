import { appendFile, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool, type SpoolStats } from '../../../src/sinks/spool/index.js';
import { crc32 } from '../../../src/sinks/spool/crc32.js';
import { segmentFileName } from '../../../src/sinks/spool/segment-file.js';
import { FILE_HEADER_BYTES, REC_HEADER_BYTES, REC_HEADER_CRC, REC_LENGTH, RECORD_MAGIC_BYTES } from '../../../src/sinks/spool/record-format.js';
import {
  captureLog,
  drain,
  type LogLine,
  makeTempDir,
  payloadOf,
  recordsIn,
  removeTempDirs,
  type SegmentOnDisk,
  segmentFiles,
  WARN,
} from './fixtures/spool-disk.js';

afterEach(removeTempDirs);

const KiB = 1024;
const MiB = 1024 * KiB;
const OPTIONS = { maxBytes: 64 * MiB, segmentBytes: 6 * KiB };
/** Records written before the damage: the first four fill one 6 KiB segment, the last starts a second. */
const SIZES = [100, 0, 2000, 1500, 3000];

async function writeSpool(dir: string, sizes: readonly number[]): Promise<void> {
  const spool = await Spool.open({ dir, ...OPTIONS }, captureLog().log);
  for (let i = 0; i < sizes.length; i++) expect(await spool.append(payloadOf(i, sizes[i] as number))).toBe('ok');
  await spool.close();
}

async function lastSegment(dir: string): Promise<SegmentOnDisk> {
  const files = await segmentFiles(dir);
  const last = files.at(-1);
  if (last === undefined) throw new Error('no segment');
  return last;
}

async function patch(path: string, offset: number, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.write(bytes, 0, bytes.byteLength, offset);
  await handle.close();
}

/** Sets a record's length field and re-seals its header CRC, so only the length is wrong. */
async function forgeLength(path: string, recordOffset: number, length: number): Promise<void> {
  const header = (await readFile(path)).subarray(recordOffset, recordOffset + REC_HEADER_BYTES);
  const v = new DataView(header.buffer, header.byteOffset, REC_HEADER_BYTES);
  v.setUint32(REC_LENGTH, length, true);
  v.setUint32(REC_HEADER_CRC, crc32(header.subarray(0, REC_HEADER_CRC)), true);
  await patch(path, recordOffset, header);
}

interface Reopened {
  spool: Spool;
  stats: SpoolStats;
  warnings: LogLine[];
}

async function reopen(dir: string): Promise<Reopened> {
  const { log, lines } = captureLog();
  const spool = await Spool.open({ dir, ...OPTIONS }, log);
  return { spool, stats: spool.stats(), warnings: lines.filter((l) => l.level >= WARN) };
}

/** Reads everything, then checks appends after recovery are readable, also after one more restart. */
async function expectSeedsThenAppendable(dir: string, spool: Spool, seeds: number[]): Promise<void> {
  const got = await drain(spool);
  expect(got.map((r) => Buffer.from(r.payload))).toEqual(seeds.map((i) => payloadOf(i, SIZES[i] as number)));
  expect(await spool.append(payloadOf(100, 777))).toBe('ok');
  expect(await spool.append(payloadOf(101, 0))).toBe('ok');
  await spool.close();
  const again = await reopen(dir);
  expect(again.warnings).toEqual([]);
  const after = await drain(again.spool);
  expect(after.map((r) => Buffer.from(r.payload))).toEqual([payloadOf(100, 777), payloadOf(101, 0)]);
  expect(after[0]?.id).toBeGreaterThan(got.at(-1)?.id ?? 0);
  await again.spool.close();
}

describe('recovery from a damaged tail', () => {
  type Damage = (path: string, lastRecordOffset: number, size: number) => Promise<void>;
  const cases: [string, Damage][] = [
    ['the last record cut mid-header', (path, at) => truncate(path, at + 10)],
    ['the last record cut right after its header', (path, at) => truncate(path, at + REC_HEADER_BYTES)],
    ['the last record cut mid-payload', (path, at) => truncate(path, at + REC_HEADER_BYTES + 1234)],
    ['a payload byte of the last record flipped', (path, at) => patch(path, at + REC_HEADER_BYTES + 7, Uint8Array.of(0xff ^ payloadOf(4, 3000)[7]!))],
    ['the length field of the last record overwritten', (path, at) => patch(path, at + REC_LENGTH, Uint8Array.of(0xf0, 0xff, 0xff, 0x3f))],
    ['the length of the last record forged (CRC re-sealed) to 1 GiB', (path, at) => forgeLength(path, at, 1024 * MiB)],
    ['the length of the last record forged one byte too long', (path, at) => forgeLength(path, at, 3001)],
  ];

  it.each(cases)('%s: reported, cut off, earlier records intact', async (_name, damage) => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const last = await lastSegment(dir);
    const records = await recordsIn(last.path);
    const lastRecord = records.at(-1);
    if (lastRecord === undefined) throw new Error('no record');
    await damage(last.path, lastRecord.offset, last.size);
    const damagedSize = (await lastSegment(dir)).size;

    const { spool, stats, warnings } = await reopen(dir);
    expect(stats.corruptRecordsSkipped).toBe(1);
    expect(stats.corruptBytesSkipped).toBe(damagedSize - lastRecord.offset);
    expect(warnings.some((w) => w.offset === lastRecord.offset && /torn or damaged tail/.test(w.msg))).toBe(true);
    expect((await lastSegment(dir)).size).toBe(lastRecord.offset);
    await expectSeedsThenAppendable(dir, spool, [0, 1, 2, 3]);
  });

  it.each([
    ['random bytes', (n: number) => payloadOf(42, n)],
    ['copies of the record magic', (n: number) => Buffer.alloc(n, Buffer.from(RECORD_MAGIC_BYTES))],
    ['zeros (a file extended but never written)', (n: number) => Buffer.alloc(n)],
  ])('garbage (%s) after the last good record: reported and cut off', async (_name, garbage) => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const last = await lastSegment(dir);
    await appendFile(last.path, garbage(4097));
    const { spool, stats, warnings } = await reopen(dir);
    expect(stats).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: 4097, records: SIZES.length });
    expect(warnings.length).toBeGreaterThan(0);
    expect((await lastSegment(dir)).size).toBe(last.size);
    await expectSeedsThenAppendable(dir, spool, [0, 1, 2, 3, 4]);
  });

  it('a torn tail in an older segment is cut off and the newer segment is kept whole', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const files = await segmentFiles(dir);
    expect(files.length).toBe(2);
    const older = files[0] as SegmentOnDisk;
    const olderRecords = await recordsIn(older.path);
    const cutAt = (olderRecords.at(-1)?.offset ?? 0) + 40;
    await truncate(older.path, cutAt);
    const { spool, stats } = await reopen(dir);
    expect(stats.corruptRecordsSkipped).toBe(1);
    const lostSeed = olderRecords.length - 1;
    await expectSeedsThenAppendable(dir, spool, [0, 1, 2, 3, 4].filter((i) => i !== lostSeed));
  });
});

describe('recovery from damage in the middle', () => {
  it('a record with a bad payload is skipped and the records after it are kept', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const [first] = await segmentFiles(dir);
    const records = await recordsIn(first?.path ?? '');
    const victim = records[0];
    if (first === undefined || victim === undefined) throw new Error('no record');
    await patch(first.path, victim.offset + REC_HEADER_BYTES, Uint8Array.of(0xff ^ payloadOf(0, 100)[0]!));
    const sizeBefore = first.size;

    const { spool, stats, warnings } = await reopen(dir);
    expect(stats).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: REC_HEADER_BYTES + 100, records: SIZES.length - 1 });
    expect(warnings.some((w) => /skipped to the next good record/.test(w.msg))).toBe(true);
    expect((await segmentFiles(dir))[0]?.size).toBe(sizeBefore);
    await expectSeedsThenAppendable(dir, spool, [1, 2, 3, 4]);
  });

  it('a record with a bad length is skipped by searching for the next good record', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const [first] = await segmentFiles(dir);
    const records = await recordsIn(first?.path ?? '');
    const victim = records[1];
    if (first === undefined || victim === undefined) throw new Error('no record');
    await patch(first.path, victim.offset + REC_LENGTH, Uint8Array.of(0x00, 0x10));
    const { spool, stats } = await reopen(dir);
    expect(stats).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: REC_HEADER_BYTES + 0 });
    await expectSeedsThenAppendable(dir, spool, [0, 2, 3, 4]);
  });

  it('a damaged file header: records still read, appends go to a new segment', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const last = await lastSegment(dir);
    await patch(last.path, 3, Uint8Array.of(0x00));
    const { spool, stats, warnings } = await reopen(dir);
    expect(stats).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: FILE_HEADER_BYTES, records: SIZES.length });
    expect(warnings.some((w) => /header damaged/.test(w.msg))).toBe(true);
    expect((await segmentFiles(dir)).length).toBe(3);
    await expectSeedsThenAppendable(dir, spool, [0, 1, 2, 3, 4]);
  });

  it('segment files left by a crash while creating them are removed', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const last = await lastSegment(dir);
    const base = Number(last.name.slice(0, 16));
    await writeFile(join(dir, segmentFileName(base + 100)), Buffer.alloc(0));
    await writeFile(join(dir, segmentFileName(base + 200)), (await readFile(last.path)).subarray(0, 20));
    const { spool, stats } = await reopen(dir);
    expect(stats).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: 20, segments: 2 });
    expect((await segmentFiles(dir)).map((f) => f.name)).not.toContain(segmentFileName(base + 200));
    await expectSeedsThenAppendable(dir, spool, [0, 1, 2, 3, 4]);
  });
});

describe('damage found while reading', () => {
  it('a payload that changed on disk after start-up is skipped on read', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const { spool } = await reopen(dir);
    const [first] = await segmentFiles(dir);
    const victim = (await recordsIn(first?.path ?? ''))[2];
    await patch(first?.path ?? '', (victim?.offset ?? 0) + REC_HEADER_BYTES + 1500, Uint8Array.of(1, 2, 3));
    const got = await drain(spool);
    expect(got.map((r) => Buffer.from(r.payload))).toEqual([0, 1, 3, 4].map((i) => payloadOf(i, SIZES[i] as number)));
    expect(spool.stats()).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: REC_HEADER_BYTES + 2000, records: 0 });
    await spool.close();
  });

  it('a header that changed on disk after start-up is stepped over to the next good record', async () => {
    const dir = await makeTempDir();
    await writeSpool(dir, SIZES);
    const { spool } = await reopen(dir);
    const [first] = await segmentFiles(dir);
    const victim = (await recordsIn(first?.path ?? ''))[1];
    await patch(first?.path ?? '', (victim?.offset ?? 0) + 1, Uint8Array.of(0));
    const got = await drain(spool);
    expect(got.map((r) => Buffer.from(r.payload))).toEqual([0, 2, 3, 4].map((i) => payloadOf(i, SIZES[i] as number)));
    expect(spool.stats()).toMatchObject({ corruptRecordsSkipped: 1, corruptBytesSkipped: REC_HEADER_BYTES, records: 0 });
    await spool.close();
  });
});

describe('damage anywhere (property)', () => {
  it('start-up succeeds and every record not touched by a flipped byte comes back, in order', async () => {
    const sizes = fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 3000 })), { minLength: 1, maxLength: 16 });
    const damage = fc.array(fc.record({ file: fc.nat(), at: fc.double({ min: 0, max: 1, noNaN: true }), xor: fc.integer({ min: 1, max: 255 }) }), {
      minLength: 1,
      maxLength: 3,
    });
    await fc.assert(
      fc.asyncProperty(sizes, damage, async (recordSizes, flips) => {
        const dir = await makeTempDir();
        const spool = await Spool.open({ dir, ...OPTIONS }, captureLog().log);
        for (let i = 0; i < recordSizes.length; i++) await spool.append(payloadOf(i, recordSizes[i] as number));
        await spool.close();

        const files = await segmentFiles(dir);
        const layout = await Promise.all(files.map((f) => recordsIn(f.path)));
        const touched = new Set<number>();
        const flipped = new Set<string>();
        for (const flip of flips) {
          const fileIndex = flip.file % files.length;
          const file = files[fileIndex] as SegmentOnDisk;
          const at = Math.min(file.size - 1, Math.floor(flip.at * file.size));
          // A second flip of the same byte could undo the first.
          if (flipped.has(`${fileIndex}:${at}`)) continue;
          flipped.add(`${fileIndex}:${at}`);
          const original = (await readFile(file.path))[at] as number;
          await patch(file.path, at, Uint8Array.of(original ^ flip.xor));
          const hit = (layout[fileIndex] ?? []).findIndex((r) => at >= r.offset && at < r.end);
          if (hit >= 0) touched.add(layout.slice(0, fileIndex).reduce((n, l) => n + l.length, 0) + hit);
        }

        const { spool: reopened, stats } = await reopen(dir);
        expect(stats.corruptRecordsSkipped).toBeGreaterThan(0);
        const got = await drain(reopened);
        const expected = recordSizes.map((size, i) => ({ i, size })).filter(({ i }) => !touched.has(i));
        expect(got.map((r) => Buffer.from(r.payload))).toEqual(expected.map(({ i, size }) => payloadOf(i, size)));
        await reopened.close();
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
