import type pg from 'pg';

/**
 * Runs `work` in one transaction on a pooled client, opened with `begin` (plain BEGIN, or
 * e.g. a READ ONLY snapshot), committed when it returns and rolled back when it throws.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    // A connection that cannot even roll back is not given back to the pool.
    client.release(broken);
  }
}
