// Security schemes, scalar types and query parameters shared by the ingest and read operations.

/** docs/protocol.md §3: the three headers authenticate a request only together. */
export const AGENT_SIGNED = { AgentId: [], AgentTimestamp: [], AgentSignature: [] };
/** An API key of docs/protocol.md §4; the list names the scope it needs (docs/read-api.md §1). */
export const keyWith = (/** @type {string} */ scope) => ({ ApiKey: [scope] });

export function securitySchemes() {
  const signed =
    'Sent together with X-MachPay-Timestamp and X-MachPay-Signature: an Ed25519 signature over `machpay-v1\\n{timestamp}\\n{path}\\n` followed by the body exactly as sent (docs/protocol.md §3). In binary mode (v1.1) the lines `ce-specversion:{v}`, `ce-id:{v}`, `ce-source:{v}`, `ce-type:{v}`, `ce-time:{v}` come between the prefix and the body. On the read side `{path}` is the path, `?` and the query string exactly as sent (none without a query), and the body is empty for GET.';
  return {
    AgentId: {
      type: 'apiKey',
      in: 'header',
      name: 'X-MachPay-Agent',
      description: `The agent's 32-byte Ed25519 public key in base58; it is the agent_id. ${signed}`,
    },
    AgentTimestamp: {
      type: 'apiKey',
      in: 'header',
      name: 'X-MachPay-Timestamp',
      description: "Unix milliseconds of signing, decimal; refused when more than 300 s (configurable) from the receiver's clock. Part of the agent signature (see AgentId).",
    },
    AgentSignature: {
      type: 'apiKey',
      in: 'header',
      name: 'X-MachPay-Signature',
      description: 'The 64-byte Ed25519 signature in standard base64 with padding (88 characters). Part of the agent signature (see AgentId).',
    },
    ApiKey: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'mpk_live_… or mpk_test_… followed by at least 32 random bytes in base64url',
      description:
        'A tenant API key (docs/protocol.md §4). Keys carry scopes: `ingest` (the default), `read`, `admin`; a security requirement lists the scope an operation needs, and `admin` includes `read` (docs/read-api.md §1).',
    },
    StreamToken: {
      type: 'apiKey',
      in: 'query',
      name: 'access_token',
      description: "A token from POST /v1/stream/tokens, for clients that cannot send headers (a browser's EventSource): it opens streams of its topics for 10 minutes (docs/read-api.md §4).",
    },
  };
}

export function commonSchemas() {
  return {
    Timestamp: { type: 'string', format: 'date-time', description: 'RFC 3339, UTC (milliseconds, or microseconds where the stored row has them).' },
    AgentId: { type: 'string', pattern: '^[1-9A-HJ-NP-Za-km-z]{32,44}$', description: "An agent's Ed25519 public key in base58." },
    AtomicAmount: {
      type: 'string',
      pattern: '^[0-9]{1,40}$',
      description: 'A non-negative amount in atomic units (USDC micro-units, lamports) as a decimal string: exact, an int64 or a sum of them.',
    },
    Int64String: { type: 'string', pattern: '^-?[0-9]{1,19}$', description: 'A signed 64-bit integer as a decimal string.' },
    LatencyMs: {
      type: ['number', 'null'],
      minimum: 0,
      description: 'Milliseconds; null when there is nothing to measure. Percentiles are nearest-rank from the HDR rollups: never below the exact value, above it by less than 1/1024 of it.',
    },
    Rate: { type: ['number', 'null'], minimum: 0, maximum: 1, description: 'A share from 0 to 1; null without requests.' },
    NextCursor: { type: ['string', 'null'], description: 'Pass it back as `cursor` for the next page; null on the last page.' },
    BalanceSnapshot: {
      type: 'object',
      description: "The agent's latest telemetry snapshot (docs/protocol.md §5).",
      required: ['usdc_balance_atomic', 'sol_balance_lamports', 'at'],
      properties: {
        usdc_balance_atomic: { anyOf: [{ $ref: '#/components/schemas/AtomicAmount' }, { type: 'null' }] },
        sol_balance_lamports: { anyOf: [{ $ref: '#/components/schemas/AtomicAmount' }, { type: 'null' }] },
        at: { $ref: '#/components/schemas/Timestamp' },
      },
    },
  };
}

const param = (/** @type {string} */ name) => ({ $ref: `#/components/parameters/${name}` });

/** Window parameters of docs/read-api.md §3. */
export const WINDOW = [param('range'), param('from'), param('to')];
export const PAGE = [param('cursor'), param('limit')];
export const AGENT_ID = param('agent_id');

export function commonParameters() {
  return {
    agent_id: {
      name: 'agent_id',
      in: 'query',
      description: 'The agent. Required with an API key (the agent must be linked to the key’s tenant, else 404 `not_found`); an agent signing for itself may omit it or name itself.',
      schema: { $ref: '#/components/schemas/AgentId' },
    },
    range: {
      name: 'range',
      in: 'query',
      description: 'A window ending now; default `24h`. Not with `from` or `to`.',
      schema: { type: 'string', enum: ['1h', '24h', '7d', '30d'], default: '24h' },
    },
    from: {
      name: 'from',
      in: 'query',
      description: 'Start of the window (inclusive), RFC 3339. At most 400 days before `to`.',
      schema: { type: 'string', format: 'date-time' },
    },
    to: {
      name: 'to',
      in: 'query',
      description: 'End of the window (exclusive), RFC 3339, later than `from`; default now. Only with `from`.',
      schema: { type: 'string', format: 'date-time' },
    },
    cursor: {
      name: 'cursor',
      in: 'query',
      description: 'The `next_cursor` of the previous page, unchanged (an opaque keyset position).',
      schema: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' },
    },
    limit: {
      name: 'limit',
      in: 'query',
      description: 'Rows per page.',
      schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    },
  };
}
