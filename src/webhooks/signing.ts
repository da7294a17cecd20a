import { createHmac, randomBytes, randomUUID } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the receiver of a delivery
 * verifies `webhook-signature` with the secret it was shown at registration, and rejects
 * replays by `webhook-timestamp`.
 */

const SECRET_PREFIX = 'whsec_';
/** 32 bytes: the specification asks for 24 to 64; HMAC-SHA256's block is 64, its output 32. */
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_` + base64 of random bytes: the form verifiers accept. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key: the base64-decoded part after `whsec_`. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/** A message id for the `webhook-id` header: unique per event, kept on every attempt. */
export function newMessageId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. The timestamp is the attempt's
 * (whole seconds since the epoch), not the event's, so that verifiers' replay windows accept
 * a retry made hours later; the body and id stay the same on every attempt.
 */
export function signWebhook(key: Buffer, messageId: string, timestampSeconds: number, body: string): SignedHeaders {
  const timestamp = String(timestampSeconds);
  const mac = createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`, 'utf8').digest('base64');
  return { 'webhook-id': messageId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}
