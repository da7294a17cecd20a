// Webhooks (docs/read-api.md §6): registration, listing, deletion and the delivery log, for a
// tenant admin; and the deliveries themselves, as OpenAPI 3.1 `webhooks`.
import { keyWith, PAGE } from './common.mjs';
import { errorResponses } from './errors.mjs';

const ref = (/** @type {string} */ name) => ({ $ref: `#/components/schemas/${name}` });
const json = (/** @type {string} */ description, /** @type {string} */ schema) => ({ description, content: { 'application/json': { schema: ref(schema) } } });
const AUTH = ['invalid_api_key', 'forbidden', 'not_ready'];
const EVENT_TYPES = ['alert.firing', 'alert.resolved'];

const webhookProperties = {
  id: { type: 'string', format: 'uuid' },
  url: { type: 'string', format: 'uri' },
  event_types: { type: 'array', items: { enum: EVENT_TYPES } },
  description: { type: ['string', 'null'], maxLength: 256 },
  disabled_at: { anyOf: [ref('Timestamp'), { type: 'null' }], description: 'Set when the endpoint answered 410 Gone; nothing more is sent to it.' },
  disabled_reason: { type: ['string', 'null'] },
  created_at: ref('Timestamp'),
};
const viewRequired = ['id', 'url', 'event_types', 'description', 'disabled_at', 'created_at'];

export function webhookSchemas() {
  return {
    WebhookRegistration: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'event_types'],
      properties: {
        url: {
          type: 'string',
          format: 'uri',
          description: 'http or https. Loopback, link-local and private addresses are refused (`invalid_webhook_url`), at registration and again when the name is resolved for each delivery, unless WEBHOOK_ALLOW_PRIVATE_URLS=true.',
        },
        event_types: { type: 'array', minItems: 1, items: { enum: EVENT_TYPES } },
        description: { type: ['string', 'null'], maxLength: 256 },
      },
    },
    Webhook: { type: 'object', description: 'A registered webhook; never its secret.', required: viewRequired, properties: webhookProperties },
    CreatedWebhook: {
      type: 'object',
      description: 'The new webhook with its secret, shown this once.',
      required: [...viewRequired, 'secret'],
      properties: {
        ...webhookProperties,
        secret: { type: 'string', pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', description: 'Standard Webhooks signing secret: `whsec_` and the base64 key.' },
      },
    },
    WebhookList: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: ref('Webhook') } } },
    DeliveryAttempt: {
      type: 'object',
      description: 'One attempt to deliver one message, and what it left the delivery as.',
      required: ['webhook_id', 'event_type', 'attempt', 'status', 'response_code', 'attempted_at', 'next_attempt_at'],
      properties: {
        webhook_id: { type: 'string', format: 'uuid' },
        message_id: { type: 'string', description: 'The `webhook-id` of the message, the same on every attempt.' },
        event_type: { enum: EVENT_TYPES },
        attempt: { type: 'integer', minimum: 1 },
        status: { enum: ['delivered', 'retrying', 'failed', 'disabled'] },
        response_code: { type: ['integer', 'null'] },
        error: { type: ['string', 'null'], description: 'Why the attempt got no 2xx.' },
        duration_ms: { type: 'number', minimum: 0 },
        attempted_at: ref('Timestamp'),
        next_attempt_at: { anyOf: [ref('Timestamp'), { type: 'null' }] },
      },
    },
    DeliveryAttemptList: {
      type: 'object',
      required: ['data', 'next_cursor'],
      properties: { data: { type: 'array', items: ref('DeliveryAttempt') }, next_cursor: ref('NextCursor') },
    },
    WebhookMessage: {
      type: 'object',
      description: 'The body of a delivery.',
      required: ['type', 'timestamp', 'data'],
      properties: { type: { enum: EVENT_TYPES }, timestamp: ref('Timestamp'), data: ref('Alert') },
    },
  };
}

const webhookId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

export function webhookPaths() {
  return {
    '/v1/webhooks': {
      post: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Register a webhook (tenant admin)',
        security: [keyWith('admin')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('WebhookRegistration') } } },
        responses: {
          201: json('The webhook, with its secret shown this once.', 'CreatedWebhook'),
          ...errorResponses(['invalid_body', 'invalid_webhook_url', 'body_too_large', 'unsupported_media_type', ...AUTH]),
        },
      },
      get: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'The tenant’s webhooks (tenant admin)',
        security: [keyWith('admin')],
        responses: { 200: json('Every webhook of the tenant.', 'WebhookList'), ...errorResponses(['invalid_query', ...AUTH]) },
      },
    },
    '/v1/webhooks/{id}': {
      delete: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete a webhook (tenant admin)',
        security: [keyWith('admin')],
        parameters: [webhookId],
        responses: { 204: { description: 'Deleted.' }, ...errorResponses(['not_found', ...AUTH]) },
      },
    },
    '/v1/webhooks/{id}/deliveries': {
      get: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'The webhook’s delivery attempts, newest first (tenant admin)',
        security: [keyWith('admin')],
        parameters: [webhookId, ...PAGE],
        responses: { 200: json('A page of attempts.', 'DeliveryAttemptList'), ...errorResponses(['invalid_query', 'not_found', ...AUTH]) },
      },
    },
  };
}

/** What the receiver sends to a registered URL (Standard Webhooks). */
export function webhookDeliveries() {
  const header = (/** @type {string} */ name, /** @type {string} */ description) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  const delivery = (/** @type {string} */ type) => ({
    post: {
      operationId: `deliver${type === 'alert.firing' ? 'AlertFiring' : 'AlertResolved'}`,
      summary: `An alert changed to ${type.slice('alert.'.length)}`,
      description:
        'At least once, with the same `webhook-id` on every attempt; retried with jittered backoff for about a day (configurable); any 2xx ends it, 410 disables the endpoint; 15 s timeout per attempt.',
      parameters: [
        header('webhook-id', 'The message id, the same on every attempt.'),
        header('webhook-timestamp', 'Unix seconds of this attempt.'),
        header('webhook-signature', '`v1,` + base64 HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of the secret.'),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: { allOf: [ref('WebhookMessage'), { properties: { type: { const: type } } }] } } } },
      responses: { '2XX': { description: 'Delivered.' }, 410: { description: 'The endpoint is gone: it is disabled.' } },
    },
  });
  return { 'alert.firing': delivery('alert.firing'), 'alert.resolved': delivery('alert.resolved') };
}
