import type { CopyBatch } from './batch.js';
import type { WriteOutcome } from './copy-sink.js';
import { batchOfParts, type RequestPart } from './request-parts.js';

/** A part of a batch (a request, or a row of a spooled batch) and PostgreSQL's refusal of it. */
export interface RefusedPart {
  part: RequestPart;
  error: Error;
}

/** A data exception or an integrity constraint (SQLSTATE class 22 or 23): the rows, not PostgreSQL, are at fault. */
export function refusesRow(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * `parts` of `batch` were refused together with `error`: writes each half as a batch of its
 * own (one transaction each), and splits a half that is refused in turn, down to single parts,
 * which go to `refused`. One refused part among n costs about 2·log2(n) transactions. Returns
 * null once every part is committed or in `refused`, or the first failure that is not a
 * refused row (nothing more is tried then).
 */
export async function splitRefused(
  batch: CopyBatch,
  parts: readonly RequestPart[],
  error: Error,
  write: (sub: CopyBatch) => Promise<WriteOutcome>,
  refused: RefusedPart[],
): Promise<WriteOutcome | null> {
  if (parts.length === 1) {
    refused.push({ part: parts[0] as RequestPart, error });
    return null;
  }
  const mid = parts.length >>> 1;
  for (const half of [parts.slice(0, mid), parts.slice(mid)]) {
    const outcome = await write(batchOfParts(batch, half));
    if (outcome.ok) continue;
    if (!refusesRow(outcome.error)) return outcome;
    const failure = await splitRefused(batch, half, outcome.error, write, refused);
    if (failure !== null) return failure;
  }
  return null;
}
