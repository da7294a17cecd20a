// Every error code of the API with its HTTP status (docs/protocol.md §6, docs/read-api.md),
// written here from the contract rather than imported from src/, so that
// test/docs/openapi.test.ts can hold the document and the code's tables against each other.

/** @type {Record<string, { status: number, meaning: string }>} */
export const ERROR_CODES = {
  invalid_body: { status: 400, meaning: 'the body could not be decoded (bad JSON or MessagePack, bad gzip, no Content-Length)' },
  no_valid_events: { status: 400, meaning: 'no event of the request was valid; the body also carries `rejected`' },
  invalid_query: { status: 400, meaning: 'a query parameter is unknown, given twice or malformed; the message names it' },
  invalid_request: { status: 400, meaning: 'the body is not the JSON object this endpoint takes; the message names the field' },
  invalid_link_code: { status: 400, meaning: 'the link code is unknown, already used or expired' },
  invalid_settings: { status: 400, meaning: 'a setting is unknown or out of range; the message names the field' },
  invalid_webhook_url: { status: 400, meaning: 'the webhook URL is not http(s), or names a loopback, link-local or private address' },
  missing_signature: { status: 401, meaning: 'one of the three X-MachPay-* headers is missing' },
  bad_signature: { status: 401, meaning: 'a signature header is malformed or the signature does not verify' },
  timestamp_out_of_window: { status: 401, meaning: "X-MachPay-Timestamp is too far from the receiver's clock (the `Date` header carries that clock)" },
  invalid_api_key: { status: 401, meaning: 'the API key is missing, unknown or revoked' },
  forbidden: { status: 403, meaning: 'the credentials lack the scope this endpoint needs, or are of the wrong kind (key or agent signature)' },
  not_found: { status: 404, meaning: 'no such resource, or one these credentials may not see (one answer for both); also any unknown path' },
  method_not_allowed: { status: 405, meaning: 'a known path used with another method' },
  already_linked: { status: 409, meaning: 'the agent is linked to another tenant' },
  body_too_large: { status: 413, meaning: 'the body is over the size limit; the connection may be closed after this answer' },
  too_many_events: { status: 413, meaning: 'the request carries more events than allowed; split the batch' },
  not_storable: { status: 422, meaning: 'PostgreSQL refused a row of this request (the message gives its SQLSTATE); nothing from it was stored, the other requests of its batch were; do not retry' },
  unsupported_media_type: { status: 415, meaning: 'unsupported Content-Type (or a charset other than UTF-8), or a binary-mode request without its four required ce-* headers' },
  unsupported_encoding: { status: 415, meaning: 'a Content-Encoding other than gzip or identity' },
  rate_limited: { status: 429, meaning: 'rate limit exceeded; retry after `Retry-After` seconds' },
  overloaded: { status: 429, meaning: 'the receiver is at capacity; retry after `Retry-After` seconds' },
  internal_error: { status: 500, meaning: 'an unexpected failure while answering a read; retry' },
  not_ready: { status: 503, meaning: 'the receiver cannot durably accept events, or reach its database, right now; retry after `Retry-After` seconds' },
};

/** Per-event codes of `rejected[].code` (docs/protocol.md §6). */
export const EVENT_ERROR_CODES = {
  invalid_event: 'a field is missing, of the wrong type or out of range, or the event time is outside the window; the message names the field',
  unknown_type: 'the event type is not one this endpoint accepts (docs/protocol.md §5)',
  agent_mismatch: "the event's data.agent_id is not the X-MachPay-Agent of the request",
};

const REASONS = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The shared error component and the code enum, each code with its status. */
export function errorSchemas() {
  return {
    ErrorCode: {
      description: 'Every stable error code with its HTTP status (`x-http-status`). An operation lists, per status, the codes it can answer with.',
      type: 'string',
      oneOf: Object.entries(ERROR_CODES).map(([code, { status, meaning }]) => ({
        const: code,
        description: `${status} ${REASONS[status]}: ${meaning}.`,
        'x-http-status': status,
      })),
    },
    Error: {
      description: 'The one error body of the API: `{"error": {"code", "message"}}`. Clients act on `code`; `message` is for people and may change.',
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { $ref: '#/components/schemas/ErrorCode' },
            message: { type: 'string' },
          },
        },
      },
    },
    EventErrorCode: {
      description: 'Why one event of a request was rejected (docs/protocol.md §6); the rest of the batch is unaffected.',
      type: 'string',
      oneOf: Object.entries(EVENT_ERROR_CODES).map(([code, meaning]) => ({ const: code, description: `${meaning}.` })),
    },
    Rejection: {
      description: 'One rejected event: its position in the request, its CloudEvent id when it had a readable one, and why.',
      type: 'object',
      required: ['index', 'id', 'code', 'message'],
      properties: {
        index: { type: 'integer', minimum: 0 },
        id: { type: ['string', 'null'] },
        code: { $ref: '#/components/schemas/EventErrorCode' },
        message: { type: 'string' },
      },
    },
  };
}

/** Standard headers that go with some errors. */
export function errorHeaders() {
  return {
    RetryAfter: {
      description: 'Seconds to wait before retrying.',
      schema: { type: 'integer', minimum: 1 },
    },
    Date: {
      description: "The receiver's clock (RFC 9110 HTTP-date, to the second), sent on every response: a producer refused with `timestamp_out_of_window` measures its clock offset from it.",
      schema: { type: 'string' },
    },
  };
}

/**
 * The error responses of one operation: one response per status, whose schema is the shared
 * Error narrowed to the codes listed. `rejected: true` adds the `rejected` array of a 400
 * `no_valid_events`; `dateOn401` documents the Date header of the ingest 401s.
 * @param {string[]} codes
 * @param {{ rejected?: boolean, dateOn401?: boolean }} [opts]
 */
export function errorResponses(codes, opts = {}) {
  /** @type {Map<number, string[]>} */
  const byStatus = new Map();
  for (const code of codes) {
    const entry = ERROR_CODES[code];
    if (entry === undefined) throw new Error(`unknown error code ${code}`);
    byStatus.set(entry.status, [...(byStatus.get(entry.status) ?? []), code]);
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const list = byStatus.get(status) ?? [];
    /** @type {Record<string, unknown>} */
    const narrowed = { error: { properties: { code: { enum: list } } } };
    if (opts.rejected === true && list.includes('no_valid_events')) {
      narrowed.rejected = {
        description: 'With `no_valid_events`: why each event was refused.',
        type: 'array',
        items: { $ref: '#/components/schemas/Rejection' },
      };
    }
    // allOf rather than $ref with sibling keywords: more tools resolve it.
    const schema = { allOf: [{ $ref: '#/components/schemas/Error' }, { properties: narrowed }] };
    /** @type {Record<string, unknown>} */
    const response = {
      description: list.map((c) => `\`${c}\`: ${ERROR_CODES[c]?.meaning}.`).join(' '),
      content: { 'application/json': { schema } },
    };
    if (status === 429 || status === 503) response.headers = { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } };
    if (status === 401 && opts.dateOn401 === true) response.headers = { Date: { $ref: '#/components/headers/Date' } };
    out[String(status)] = response;
  }
  return out;
}
