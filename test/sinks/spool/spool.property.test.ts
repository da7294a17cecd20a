import { appendFile, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool, type SpoolOptions } from '../../../src/sinks/spool/index.js';
import { CURSOR_FILE_NAME } from '../../../src/sinks/spool/ack-cursor.js';
import { CRC_SLICE_BYTES } from '../../../src/sinks/spool/crc32.js';
import { FILE_HEADER_BYTES, REC_HEADER_BYTES } from '../../../src/sinks/spool/record-format.js';
import { captureLog, makeTempDir, payloadOf, recordsIn, removeTempDirs, segmentBytesOnDisk, segmentFiles } from './fixtures/spool-disk.js';

afterEach(removeTempDirs);

const KiB = 1024;
/** SPOOL_PROPERTY_RUNS=2000 for a longer hunt; the default keeps the suite quick. */
const RUNS = Number(process.env.SPOOL_PROPERTY_RUNS ?? 60);

type Op =
  /** Appends started together (one group commit, or a few). */
  | { kind: 'append'; sizes: number[] }
  | { kind: 'ack'; count: number }
  | { kind: 'reopen' }
  /**
   * A crash: the spool is abandoned after close() (which only adds a cursor fsync to what
   * acknowledge() already wrote), then a segment file is cut at a random byte (what had not
   * reached the disk), optionally followed by junk (blocks allocated but never written),
   * optionally losing the cursor file altogether (worse than a power loss). The file cut is
   * the newest one holding records, or the newest of all (often the empty next segment).
   */
  | { kind: 'crash'; cutFraction: number; garbage: number; loseCursor: boolean; newestFile: boolean };

interface Config {
  options: Omit<SpoolOptions, 'dir'>;
  sizes: fc.Arbitrary<number>;
}

const SMALL: Config = {
  options: { segmentBytes: 4 * KiB, maxBytes: 24 * KiB },
  sizes: fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0, 1, 4 * KiB - FILE_HEADER_BYTES - REC_HEADER_BYTES) },
    { weight: 5, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 * KiB }) },
    { weight: 1, arbitrary: fc.integer({ min: 4 * KiB, max: 9 * KiB }) },
  ),
};

/** Payloads checksummed in slices, and segments holding a single record. */
const LARGE: Config = {
  options: { segmentBytes: 512 * KiB, maxBytes: 4 * 1024 * KiB },
  sizes: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 * KiB }) },
    { weight: 1, arbitrary: fc.integer({ min: CRC_SLICE_BYTES - 2, max: CRC_SLICE_BYTES + 300 * KiB }) },
  ),
};

function opArb(sizes: fc.Arbitrary<number>): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.array(sizes, { minLength: 1, maxLength: 6 }).map((s): Op => ({ kind: 'append', sizes: s })) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }).map((count): Op => ({ kind: 'ack', count })) },
    { weight: 1, arbitrary: fc.constant<Op>({ kind: 'reopen' }) },
    {
      weight: 2,
      arbitrary: fc
        .record({
          cutFraction: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(1)),
          garbage: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 })),
          loseCursor: fc.boolean(),
          newestFile: fc.boolean(),
        })
        .map((c): Op => ({ kind: 'crash', ...c })),
    },
  );
}

interface ModelRecord {
  seed: number;
  size: number;
  acked: boolean;
}

async function runScenario(config: Config, ops: Op[]): Promise<void> {
  const dir = await makeTempDir();
  const options: SpoolOptions = { dir, ...config.options };
  const open = async (): Promise<Spool> => Spool.open(options, captureLog().log);
  /** Every record still on disk or still owed, oldest first; acknowledged ones form a prefix. */
  const history: ModelRecord[] = [];
  const unacked = (): ModelRecord[] => history.filter((r) => !r.acked);
  let seed = 0;
  let spool = await open();
  try {
    for (const op of ops) {
      if (op.kind === 'append') {
        const bytesBefore = spool.stats().bytes;
        const seeds = op.sizes.map(() => seed++);
        const results = await Promise.all(op.sizes.map((size, i) => spool.append(payloadOf(seeds[i] as number, size))));
        results.forEach((result, i) => {
          if (result === 'ok') history.push({ seed: seeds[i] as number, size: op.sizes[i] as number, acked: false });
        });
        const size = op.sizes[0] as number;
        // A lone append with room for it and a segment header must be accepted.
        if (op.sizes.length === 1 && bytesBefore + FILE_HEADER_BYTES + REC_HEADER_BYTES + size <= options.maxBytes) expect(results[0]).toBe('ok');
        expect(spool.stats().bytes).toBeLessThanOrEqual(options.maxBytes);
      } else if (op.kind === 'ack') {
        for (let i = 0; i < op.count; i++) {
          const expected = unacked()[0];
          const record = await spool.next();
          if (expected === undefined) {
            expect(record).toBeNull();
            break;
          }
          expect(record).not.toBeNull();
          expect(Buffer.from(record?.payload ?? []).equals(payloadOf(expected.seed, expected.size))).toBe(true);
          await spool.acknowledge(record?.id ?? NaN);
          expected.acked = true;
        }
      } else if (op.kind === 'reopen') {
        await spool.close();
        spool = await open();
        expect(spool.stats().corruptRecordsSkipped).toBe(0);
      } else {
        await spool.close();
        const files = await Promise.all((await segmentFiles(dir)).map(async (f) => ({ ...f, records: await recordsIn(f.path) })));
        const last = op.newestFile ? files.at(-1) : (files.findLast((f) => f.records.length > 0) ?? files.at(-1));
        if (last === undefined) throw new Error('no segment file');
        const onDisk = last.records;
        const cutAt = Math.floor(op.cutFraction * last.size);
        const lost = onDisk.filter((r) => r.end > cutAt).length;
        // The newest file with records holds the newest records: those cut off end the history.
        for (const [i, r] of onDisk.entries()) {
          const model = history[history.length - onDisk.length + i];
          expect(model?.size).toBe(r.header.length);
        }
        history.splice(history.length - lost, lost);
        const original = await readFile(last.path);
        await truncate(last.path, cutAt);
        if (op.garbage > 0) await appendFile(last.path, garbageAfter(original, cutAt, payloadOf(seed + 1_000_000, op.garbage)));
        if (op.loseCursor) await rm(join(dir, CURSOR_FILE_NAME));

        spool = await open();
        const cleanCut = cutAt === 0 || cutAt === FILE_HEADER_BYTES || onDisk.some((r) => r.end === cutAt);
        expect(spool.stats().corruptRecordsSkipped > 0).toBe(op.garbage > 0 || !cleanCut);

        const replayed = spool.stats().records - unacked().length;
        if (!op.loseCursor) {
          expect(replayed).toBe(0);
        } else {
          // Without the cursor only the oldest segment still on disk can hold acknowledged
          // records: what comes back is the newest acknowledged ones, one segment's worth at most.
          const acked = history.filter((r) => r.acked);
          expect(replayed).toBeGreaterThanOrEqual(0);
          expect(replayed).toBeLessThanOrEqual(acked.length);
          const back = acked.slice(acked.length - replayed);
          const bytes = back.reduce((sum, r) => sum + REC_HEADER_BYTES + r.size, FILE_HEADER_BYTES);
          expect(back.length <= 1 || bytes <= options.segmentBytes).toBe(true);
          for (const r of back) r.acked = false;
        }
      }
      expect(spool.stats().records).toBe(unacked().length);
      expect(spool.stats().bytes).toBe(await segmentBytesOnDisk(dir));
    }
    // Everything owed comes out, exactly, in order.
    const rest = unacked();
    for (const expected of rest) {
      const record = await spool.next();
      expect(Buffer.from(record?.payload ?? []).equals(payloadOf(expected.seed, expected.size))).toBe(true);
      await spool.acknowledge(record?.id ?? NaN);
    }
    expect(await spool.next()).toBeNull();
  } finally {
    await spool.close();
  }
}

/**
 * `bytes` to write at `cutAt`, each differing from the byte it overwrites: garbage that
 * happens to restore what was cut (seed -911229302: one byte cut, the same byte appended)
 * is no damage at all, which the model would not expect.
 */
function garbageAfter(original: Buffer, cutAt: number, bytes: Buffer): Buffer {
  for (let i = 0; i < bytes.length && cutAt + i < original.length; i++) {
    if (bytes[i] === original[cutAt + i]) bytes[i] = (bytes[i] as number) ^ 0xff;
  }
  return bytes;
}

describe('Spool against a model, with crashes', () => {
  it('small segments, a tight maxBytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(SMALL.sizes), { minLength: 1, maxLength: 30 }), (ops) => runScenario(SMALL, ops)),
      { numRuns: RUNS },
    );
  }, 240_000);

  it('a found case: one byte cut off the newest record, one byte of garbage appended', async () => {
    await runScenario(SMALL, [
      { kind: 'append', sizes: [0, 0, 0, 0] },
      { kind: 'append', sizes: [232] },
      { kind: 'crash', cutFraction: 0.9976415094339622, garbage: 1, loseCursor: false, newestFile: false },
      { kind: 'append', sizes: [0] },
    ]);
  });

  it('payloads past the checksum slice size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb(LARGE.sizes), { minLength: 1, maxLength: 12 }), (ops) => runScenario(LARGE, ops)),
      { numRuns: Math.ceil(RUNS / 5) },
    );
  }, 240_000);
});
