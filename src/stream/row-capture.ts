import type pg from 'pg';

/** The body of stream_capture_xid() while capture is on; NULL while it is off (schema 011). */
const CAPTURING_BODY = 'SELECT txid_current()';
const IDLE_BODY = 'SELECT NULL::bigint';

function replaceBody(body: string): string {
  return `CREATE OR REPLACE FUNCTION stream_capture_xid() RETURNS BIGINT LANGUAGE sql STABLE AS '${body}'`;
}

export interface CaptureOptions {
  /** This receiver's row in stream_listeners. */
  receiverId: string;
  /** How long a listener row stays fresh without a refresh. */
  listenerTtlMs: number;
  /** How long to wait for the transactions that may have planned the old body; default 60 s. */
  maxWaitMs?: number;
  /** Pause between looks at those transactions. */
  waitStepMs?: number;
}

/** The SQL that records this receiver as having subscribers (one statement, parameters $1 id, $2 ttl ms). */
export const REFRESH_LISTENER_SQL = `INSERT INTO stream_listeners (receiver_id, expires_at) VALUES ($1, now() + $2::int * interval '1 ms')
  ON CONFLICT (receiver_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`;

/**
 * Switches the capture of the raw tables' transaction ids on and off (schema 011), for every
 * receiver of the database.
 *
 * On: the function's body becomes `txid_current()`. Statements planned before that commit
 * still insert NULL, so the switch then waits until every client transaction that was running
 * at the switch has ended (their virtual transaction id locks are gone); only then is the
 * state `on`, and only then does any receiver admit a subscriber. A statement planned after
 * the switch captures, so from `on` every transaction that commits has its rows in the log.
 * The state row is locked while it changes, so receivers switching at once take turns.
 *
 * Off: once no receiver has had a subscriber for the resume window, the body goes back to
 * NULL. No wait is needed: a statement that still captures only adds ids nobody reads.
 */
export class RowCapture {
  private readonly maxWaitMs: number;
  private readonly waitStepMs: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly o: CaptureOptions,
  ) {
    this.maxWaitMs = o.maxWaitMs ?? 60_000;
    this.waitStepMs = o.waitStepMs ?? 10;
  }

  /**
   * Makes sure capture is on and records this receiver as listening; returns the capture
   * period's `since_xid` (event ids below it are from an earlier period).
   */
  async ensureOn(): Promise<bigint> {
    for (;;) {
      const { state, since } = await this.lockAndSwitch();
      if (state === 'on') return since;
      await this.waitForOlderTransactions();
      const r = await this.pool.query(`UPDATE stream_capture SET state = 'on', changed_at = now() WHERE state = 'starting' AND since_xid = $1`, [
        since.toString(),
      ]);
      if ((r.rowCount ?? 0) === 1) return since;
      // Someone else finished the switch (or, after a long wait, switched off and on again): look again.
      const now = await this.pool.query<{ state: string; since: string | null }>('SELECT state, since_xid::text AS since FROM stream_capture');
      const row = now.rows[0];
      if (row?.state === 'on' && row.since === since.toString()) return since;
    }
  }

  /**
   * Switches capture off when no receiver has had a subscriber for `idleMs`, rechecked under
   * the state row's lock; true when it did. Listener rows older than that are deleted.
   */
  async switchOffIfIdle(idleMs: number): Promise<boolean> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ state: string }>('SELECT state FROM stream_capture FOR UPDATE');
      if (rows[0]?.state === 'off') {
        await client.query('COMMIT');
        return false;
      }
      await client.query(`DELETE FROM stream_listeners WHERE expires_at < now() - $1::int * interval '1 ms'`, [idleMs]);
      const busy = await client.query('SELECT 1 FROM stream_listeners LIMIT 1');
      if (busy.rows.length > 0) {
        await client.query('COMMIT');
        return false;
      }
      await client.query(replaceBody(IDLE_BODY));
      await client.query(`UPDATE stream_capture SET state = 'off', since_xid = NULL, changed_at = now()`);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Under the state row's lock: records this receiver as listening and, if capture was off, switches the body on. */
  private async lockAndSwitch(): Promise<{ state: string; since: bigint }> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ state: string; since: string | null }>('SELECT state, since_xid::text AS since FROM stream_capture FOR UPDATE');
      const row = rows[0];
      if (row === undefined) throw new Error('stream_capture has no row: the schema is not migrated');
      await client.query(REFRESH_LISTENER_SQL, [this.o.receiverId, this.o.listenerTtlMs]);
      let state = row.state;
      let since = row.since;
      if (state === 'off' || since === null) {
        await client.query(replaceBody(CAPTURING_BODY));
        const u = await client.query<{ since: string }>(
          `UPDATE stream_capture SET state = 'starting', since_xid = txid_current(), changed_at = now() RETURNING since_xid::text AS since`,
        );
        state = 'starting';
        since = (u.rows[0] as { since: string }).since;
      }
      await client.query('COMMIT');
      return { state, since: BigInt(since) };
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Waits until every client transaction of this database that runs now has ended. Any of them
   * may have planned its inserts before the body changed; every later one sees the new body.
   * Autovacuum and other background work never insert rows, and are not waited for.
   */
  private async waitForOlderTransactions(): Promise<void> {
    const { rows } = await this.pool.query<{ v: string[] | null }>(
      `SELECT array_agg(l.virtualxid) AS v FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
        WHERE l.locktype = 'virtualxid' AND l.granted AND s.datname = current_database()
          AND s.backend_type = 'client backend' AND l.pid <> pg_backend_pid()`,
    );
    const waiting = rows[0]?.v ?? null;
    if (waiting === null || waiting.length === 0) return;
    const deadline = performance.now() + this.maxWaitMs;
    for (;;) {
      const r = await this.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1::text[])`,
        [waiting],
      );
      if ((r.rows[0]?.n ?? 0) === 0) return;
      if (performance.now() > deadline) {
        throw new Error(`stream capture: transactions older than the switch still run after ${this.maxWaitMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.waitStepMs));
    }
  }
}
