import { open } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { recoverSpool, Spool, SpoolFiles, SpoolReader, SpoolWriter, type AppendListener } from '../../../src/sinks/spool/index.js';
import { REC_HEADER_BYTES } from '../../../src/sinks/spool/record-format.js';
import { captureLog, drain, makeTempDir, payloadOf, recordsIn, removeTempDirs, segmentFiles } from './fixtures/spool-disk.js';

afterEach(removeTempDirs);

const MAX_BYTES = 1 << 20;
const SEGMENT_BYTES = 4096;

describe('the spool writer on its own', () => {
  it('group-commits appends in call order, rolls segments, and tells its listener what became durable', async () => {
    const dir = await makeTempDir();
    const { log } = captureLog();
    const recovered = await recoverSpool(dir, log);
    const files = new SpoolFiles(dir, recovered);
    const heard: { first: number; start: number }[] = [];
    let rolls = 0;
    const listener: AppendListener = {
      appended: (_segment, start, first) => void heard.push({ first: first.id, start }),
      rolledPast: async () => {
        rolls++;
      },
    };
    const writer = new SpoolWriter(files, listener, MAX_BYTES, SEGMENT_BYTES, { id: recovered.nextId, segment: recovered.nextSegment }, log);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.append(payloadOf(i, 500))));
    expect(results).toEqual(Array(20).fill('ok'));
    expect(files.records).toBe(20);
    expect(rolls).toBeGreaterThan(0);
    // Every record is in exactly one reported batch, and batches are reported in id order.
    expect(heard.map((h) => h.first)).toEqual([...heard.map((h) => h.first)].sort((a, b) => a - b));
    expect(heard[0]?.first).toBe(recovered.nextId);
    await writer.whenIdle();
    await writer.closeFiles();
    await recovered.cursor.close();
    await files.dirHandle.close();

    const onDisk = (await Promise.all((await segmentFiles(dir)).map((s) => recordsIn(s.path)))).flat();
    expect(onDisk.map((r) => r.header.id)).toEqual(Array.from({ length: 20 }, (_, i) => recovered.nextId + i));
  });
});

describe('the spool reader on its own', () => {
  it('reads durable records in order, moves only on acknowledge, and skips a record damaged on disk', async () => {
    const dir = await makeTempDir();
    const { log } = captureLog();
    const spool = await Spool.open({ dir, maxBytes: MAX_BYTES, segmentBytes: 1 << 16 }, log);
    for (let i = 0; i < 3; i++) await spool.append(payloadOf(i, 100));
    await spool.close();
    // Flip a payload byte of the second record: its CRC no longer matches.
    const [segment] = await segmentFiles(dir);
    const records = await recordsIn(segment?.path as string);
    const handle = await open(segment?.path as string, 'r+');
    await handle.write(Buffer.from([0xff ^ (payloadOf(1, 100)[0] as number)]), 0, 1, (records[1]?.offset as number) + REC_HEADER_BYTES);
    await handle.close();

    const recovered = await recoverSpool(dir, log);
    const files = new SpoolFiles(dir, recovered);
    const reader = new SpoolReader(files, recovered, log);
    const first = await reader.next();
    expect(await reader.next()).toBe(first);
    expect(Buffer.from(first?.payload ?? [])).toEqual(payloadOf(0, 100));
    await reader.acknowledge(first?.id as number);
    const next = await reader.next();
    expect(Buffer.from(next?.payload ?? [])).toEqual(payloadOf(2, 100));
    expect({ corruptRecords: files.corruptRecords, records: files.records }).toEqual({ corruptRecords: 1, records: 1 });
    await reader.acknowledge(next?.id as number);
    expect(await reader.next()).toBeNull();
    await reader.run(() => reader.closeFiles());
    await files.activeHandle.close();
    for (const s of files.segments) await s.closeReader();
    await files.dirHandle.close();

    const reopened = await Spool.open({ dir, maxBytes: MAX_BYTES, segmentBytes: 1 << 16 }, log);
    expect(await drain(reopened)).toEqual([]);
    await reopened.close();
  });
});
