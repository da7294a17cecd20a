import { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './event-types.js';
import { checkWebhookUrl, type UrlPolicy } from './url-guard.js';
import { WebhookRequestError } from './webhook-errors.js';

export const MAX_DESCRIPTION_LENGTH = 256;

export interface WebhookRegistration {
  readonly url: string;
  readonly eventTypes: readonly WebhookEventType[];
  readonly description: string | null;
}

function invalid(message: string): WebhookRequestError {
  return new WebhookRequestError('invalid_body', message);
}

/**
 * The body of POST /v1/webhooks, checked field by field: `{"url", "event_types",
 * "description"?}`. The URL passes the SSRF guard, its name resolved; unknown fields are
 * refused so that a misspelt one is not silently dropped.
 */
export async function parseRegistration(body: Buffer, policy: UrlPolicy): Promise<WebhookRegistration> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('The body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('The body must be a JSON object.');
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'url' && key !== 'event_types' && key !== 'description') throw invalid(`${key}: unknown field`);
  }
  const types = fields.event_types;
  if (!Array.isArray(types) || types.length === 0) throw invalid(`event_types: a non-empty array of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  const eventTypes: WebhookEventType[] = [];
  for (const t of types) {
    if (!isWebhookEventType(t)) throw invalid(`event_types: ${JSON.stringify(t)} is not one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
    if (!eventTypes.includes(t)) eventTypes.push(t);
  }
  const description = fields.description ?? null;
  if (description !== null && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
    throw invalid(`description: a string of at most ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  const url = await checkWebhookUrl(fields.url, policy);
  return { url: url.href, eventTypes, description };
}
