/**
 * A few of the receiver's own counters, read from its /metrics around a hold: how many
 * batches it acknowledged through the local spool (docs/protocol.md §6: durable on local disk,
 * reaching PostgreSQL later) instead of after a PostgreSQL commit.
 */
export interface SpoolCounters {
  appendsOk: number;
  /** Batches in the spool waiting for PostgreSQL. */
  records: number;
}

export async function readSpoolCounters(baseUrl: string): Promise<SpoolCounters | null> {
  const text = await scrape(baseUrl);
  if (text === null) return null;
  return { appendsOk: sample(text, 'machpay_spool_appends_total{outcome="ok"}'), records: sample(text, 'machpay_spool_records') };
}

/** One unlabelled sample of the receiver's /metrics (null: not reachable). */
export async function readSample(baseUrl: string, name: string): Promise<number | null> {
  const text = await scrape(baseUrl);
  return text === null ? null : sample(text, name);
}

async function scrape(baseUrl: string): Promise<string | null> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.status === 200 ? await res.text() : null;
  } catch {
    return null;
  }
}

function sample(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ')) return Number(line.slice(name.length + 1)) || 0;
  }
  return 0;
}
