import type pg from 'pg';
import type { AttemptStatus } from './retry-policy.js';

/** A delivery claimed for one attempt, with what is needed to sign and send it. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly messageId: string;
  readonly webhookId: string;
  readonly eventType: string;
  readonly payload: { type: string; timestamp: string; data: unknown };
  /** This attempt's number (1 for the first). */
  readonly attempt: number;
  readonly claimToken: string;
  /** The delivery's age at the claim, by the database's clock. */
  readonly ageMs: number;
  readonly url: string;
  readonly secret: string;
}

interface ClaimRow {
  id: string;
  message_id: string;
  webhook_id: string;
  event_type: string;
  payload: ClaimedDelivery['payload'];
  attempts: number;
  claim_token: string;
  age_ms: number;
  url: string;
  secret: string;
}

/**
 * Claims up to `limit` due deliveries for one attempt each. SKIP LOCKED lets several
 * receivers claim at once without waiting on or taking each other's rows; the claim itself
 * moves next_attempt_at `leaseMs` ahead and sets a fresh claim_token, so the row is no longer
 * due for anyone until the attempt is recorded or the lease runs out (its receiver died).
 *
 * At most `perWebhook` attempts per endpoint are in flight (per receiver, give or take a
 * concurrent claim): an endpoint that holds every request for the whole timeout, with a
 * backlog of thousands, then takes that many slots and not all of them, so other tenants'
 * deliveries keep flowing. Claimed rows are found by their claim_token (set only while a
 * claim is live or expired unrecorded; an expired one is due again and not counted).
 */
export async function claimDueDeliveries(
  db: pg.Pool | pg.ClientBase,
  limit: number,
  leaseMs: number,
  perWebhook: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<ClaimRow>(
    `WITH busy AS (
       SELECT webhook_id FROM webhook_deliveries
        WHERE claim_token IS NOT NULL AND state = 'pending' AND next_attempt_at > now()
        GROUP BY webhook_id
        HAVING count(*) >= $3
     ), candidates AS (
       SELECT id, webhook_id, next_attempt_at FROM webhook_deliveries
        WHERE state = 'pending' AND next_attempt_at <= now()
          AND webhook_id NOT IN (SELECT webhook_id FROM busy)
        ORDER BY next_attempt_at, id
        LIMIT $1 * 4
     ), picked AS (
       SELECT id FROM (
         SELECT id, next_attempt_at, row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS nth
           FROM candidates) c
        WHERE nth <= $3
        ORDER BY next_attempt_at, id
        LIMIT $1
     ), due AS (
       -- Locking re-reads each row: one another receiver claimed meanwhile is skipped or no longer due.
       SELECT d.id FROM webhook_deliveries d
        WHERE d.id IN (SELECT id FROM picked) AND d.state = 'pending' AND d.next_attempt_at <= now()
        FOR UPDATE SKIP LOCKED
     )
     UPDATE webhook_deliveries d
        SET attempts = d.attempts + 1,
            next_attempt_at = now() + $2 * interval '1 millisecond',
            claim_token = gen_random_uuid()
       FROM due, webhooks w
      WHERE d.id = due.id AND w.id = d.webhook_id
     RETURNING d.id, d.message_id, d.webhook_id, d.event_type, d.payload, d.attempts, d.claim_token,
               (extract(epoch FROM now() - d.created_at) * 1000)::float8 AS age_ms, w.url, w.secret`,
    [limit, leaseMs, perWebhook],
  );
  return rows.map((r) => ({
    id: r.id,
    messageId: r.message_id,
    webhookId: r.webhook_id,
    eventType: r.event_type,
    payload: r.payload,
    attempt: r.attempts,
    claimToken: r.claim_token,
    ageMs: r.age_ms,
    url: r.url,
    secret: r.secret,
  }));
}

export interface AttemptRecord {
  readonly status: AttemptStatus;
  readonly retryInMs: number | null;
  readonly responseCode: number | null;
  readonly error: string | null;
  readonly attemptedAt: Date;
  readonly durationMs: number;
}

/**
 * Records an attempt's outcome and logs it, in one transaction. The delivery changes only if
 * this claim still holds it (same token, still pending): a claim that outlived its lease, or
 * an endpoint deleted meanwhile, leaves the row to whoever holds it now. The attempt is logged
 * either way, since it did happen. A 410 disables the endpoint and ends its pending deliveries.
 * Returns whether the claim still held.
 */
export async function recordAttempt(pool: pg.Pool, d: ClaimedDelivery, r: AttemptRecord): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const terminal = r.status !== 'retrying';
    const updated = await client.query<{ next_attempt_at: Date | null }>(
      `UPDATE webhook_deliveries
          SET state = CASE WHEN $3 = 'retrying' THEN 'pending' ELSE $3 END,
              next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at ELSE now() + $4::float8 * interval '1 millisecond' END,
              claim_token = NULL,
              last_response_code = $5,
              completed_at = CASE WHEN $6 THEN now() ELSE NULL END
        WHERE id = $1 AND claim_token = $2 AND state = 'pending'
        RETURNING CASE WHEN state = 'pending' THEN next_attempt_at END AS next_attempt_at`,
      [d.id, d.claimToken, r.status, r.retryInMs, r.responseCode, terminal],
    );
    const held = updated.rowCount === 1;
    const nextAttemptAt = held ? (updated.rows[0]?.next_attempt_at ?? null) : null;
    let loggedStatus = r.status;
    if (!held) {
      // Deleted or disabled meanwhile: the log says so rather than promise a retry.
      const now = await client.query<{ state: string }>('SELECT state FROM webhook_deliveries WHERE id = $1', [d.id]);
      if (now.rows[0]?.state === 'disabled') loggedStatus = 'disabled';
    }
    if (held && r.status === 'disabled') {
      await client.query(
        `UPDATE webhooks SET disabled_at = now(), disabled_reason = $2 WHERE id = $1 AND disabled_at IS NULL`,
        [d.webhookId, `the endpoint answered ${r.responseCode ?? 410} Gone`],
      );
      await client.query(
        `UPDATE webhook_deliveries SET state = 'disabled', claim_token = NULL, completed_at = now() WHERE webhook_id = $1 AND state = 'pending'`,
        [d.webhookId],
      );
    }
    await client.query(
      `INSERT INTO webhook_delivery_attempts
         (webhook_id, delivery_id, message_id, event_type, attempt, status, response_code, error, duration_ms, attempted_at, next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        d.webhookId,
        d.id,
        d.messageId,
        d.eventType,
        d.attempt,
        loggedStatus,
        r.responseCode,
        r.error,
        Math.round(r.durationMs),
        r.attemptedAt,
        nextAttemptAt,
      ],
    );
    await client.query('COMMIT');
    return held;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Deliveries waiting to be sent (the queue-size gauge). */
export async function countPendingDeliveries(db: pg.Pool | pg.ClientBase): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'`);
  return Number(rows[0]?.n ?? 0);
}
