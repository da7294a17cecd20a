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
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return null;
    const text = await res.text();
    return { appendsOk: sample(text, 'machpay_spool_appends_total{outcome="ok"}'), records: sample(text, 'machpay_spool_records') };
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
