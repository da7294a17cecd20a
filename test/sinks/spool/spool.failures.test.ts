import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Spool } from '../../../src/sinks/spool/index.js';
import { FILE_HEADER_BYTES, REC_HEADER_BYTES } from '../../../src/sinks/spool/record-format.js';
import { captureLog, drain, makeTempDir, payloadOf, removeTempDirs, segmentBytesOnDisk, segmentFiles } from './fixtures/spool-disk.js';

/** Disk errors, injected into FileHandle methods: what the appenders see, and what is left on disk. */

afterEach(async () => {
  vi.restoreAllMocks();
  await removeTempDirs();
});

const KiB = 1024;

async function fileHandlePrototype(): Promise<FileHandle> {
  const probe = await open(join(await makeTempDir(), 'probe'), 'w');
  await probe.close();
  return Object.getPrototypeOf(probe) as FileHandle;
}

function diskError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

describe('write failures', () => {
  it('a failed writev rejects its batch, cuts the partial write off, and later appends succeed', async () => {
    const dir = await makeTempDir();
    const spool = await Spool.open({ dir, maxBytes: 1024 * KiB, segmentBytes: 64 * KiB }, captureLog().log);
    await spool.append(payloadOf(0, 500));
    const proto = await fileHandlePrototype();
    const realWritev = proto.writev;
    vi.spyOn(proto, 'writev').mockImplementationOnce(async function (this: FileHandle, buffers, position) {
      // Half a batch reaches the file, then the disk is full.
      await realWritev.call(this, buffers.slice(0, 1), position);
      throw diskError('ENOSPC');
    });
    await expect(spool.append(payloadOf(1, 500))).rejects.toMatchObject({ code: 'spool_write_failed', cause: { code: 'ENOSPC' } });
    expect(await segmentBytesOnDisk(dir)).toBe(FILE_HEADER_BYTES + REC_HEADER_BYTES + 500);

    expect(await Promise.all([spool.append(payloadOf(2, 500)), spool.append(payloadOf(3, 500))])).toEqual(['ok', 'ok']);
    expect(spool.stats()).toMatchObject({ records: 3, bytes: await segmentBytesOnDisk(dir) });
    await spool.close();
    const { log, lines } = captureLog();
    const reopened = await Spool.open({ dir, maxBytes: 1024 * KiB, segmentBytes: 64 * KiB }, log);
    expect(reopened.stats().corruptRecordsSkipped).toBe(0);
    expect((await drain(reopened)).map((r) => r.payload)).toEqual([payloadOf(0, 500), payloadOf(2, 500), payloadOf(3, 500)]);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    await reopened.close();
  });

  it('a failed fdatasync stops the spool: that batch and every later append reject until reopened', async () => {
    const dir = await makeTempDir();
    const { log, lines } = captureLog();
    const spool = await Spool.open({ dir, maxBytes: 1024 * KiB, segmentBytes: 64 * KiB }, log);
    await spool.append(payloadOf(0, 100));
    const proto = await fileHandlePrototype();
    vi.spyOn(proto, 'datasync').mockRejectedValueOnce(diskError('EIO'));
    await expect(spool.append(payloadOf(1, 100))).rejects.toMatchObject({ code: 'spool_failed', cause: { code: 'EIO' } });
    await expect(spool.append(payloadOf(2, 100))).rejects.toMatchObject({ code: 'spool_failed' });
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([expect.stringMatching(/sync failed/)]);
    // Reading what is durable still works, and a restart starts clean.
    expect((await drain(spool)).map((r) => r.payload)).toEqual([payloadOf(0, 100)]);
    await spool.close();
    const reopened = await Spool.open({ dir, maxBytes: 1024 * KiB, segmentBytes: 64 * KiB }, captureLog().log);
    // The rejected record reached the file (only its sync "failed"): a rejected append may
    // still come back after a restart, which is why PostgreSQL dedupes.
    const after = await drain(reopened);
    expect(after.map((r) => r.payload)).toEqual([payloadOf(1, 100)]);
    expect(await reopened.append(payloadOf(3, 100))).toBe('ok');
    await reopened.close();
  });

  it('a next segment that cannot be made ahead is made at the roll; one that cannot be made then rejects its batch', async () => {
    const dir = await makeTempDir();
    const spool = await Spool.open({ dir, maxBytes: 1024 * KiB, segmentBytes: 4 * KiB }, captureLog().log);
    const proto = await fileHandlePrototype();
    // Directory fsync is the only FileHandle.sync() the spool makes: it fails segment creation.
    const dirSync = vi.spyOn(proto, 'sync').mockRejectedValueOnce(diskError('EIO'));
    // Past half a segment: the next segment file is made beside the write, and that fails.
    expect(await spool.append(payloadOf(0, 3000))).toBe('ok');
    expect(dirSync).toHaveBeenCalledTimes(1);
    expect((await segmentFiles(dir)).length).toBe(1);
    expect(spool.stats()).toMatchObject({ segments: 1, bytes: await segmentBytesOnDisk(dir) });

    // The roll has no segment ready and makes one, which fails too: the batch is rejected.
    dirSync.mockRejectedValueOnce(diskError('EIO'));
    await expect(spool.append(payloadOf(1, 3000))).rejects.toMatchObject({ code: 'spool_write_failed' });
    expect((await segmentFiles(dir)).length).toBe(1);
    expect(spool.stats()).toMatchObject({ segments: 1, bytes: await segmentBytesOnDisk(dir) });

    expect(await spool.append(payloadOf(2, 3000))).toBe('ok');
    expect(spool.stats()).toMatchObject({ segments: 3, bytes: await segmentBytesOnDisk(dir) });
    expect((await drain(spool)).map((r) => r.payload)).toEqual([payloadOf(0, 3000), payloadOf(2, 3000)]);
    await spool.close();
  });
});
