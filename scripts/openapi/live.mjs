// Live events (docs/read-api.md §4) and alerts (§5): the SSE stream, its tokens, and the
// alert list and acknowledgement.
import { AGENT_ID, AGENT_SIGNED, keyWith, PAGE } from './common.mjs';
import { errorResponses } from './errors.mjs';

const ref = (/** @type {string} */ name) => ({ $ref: `#/components/schemas/${name}` });
const AUTH = ['missing_signature', 'bad_signature', 'timestamp_out_of_window', 'invalid_api_key', 'forbidden', 'internal_error', 'not_ready'];
const TOPIC = { type: 'string', pattern: '^agent:(\\*|[1-9A-HJ-NP-Za-km-z]{32,44})$' };

export function liveSchemas() {
  return {
    Topic: { ...TOPIC, description: '`agent:{agent_id}` (one agent) or `agent:*` (every agent of the key’s tenant).' },
    StreamTokenRequest: {
      type: 'object',
      additionalProperties: false,
      required: ['topics'],
      properties: { topics: { type: 'array', minItems: 1, maxItems: 32, items: ref('Topic') } },
    },
    StreamToken: {
      type: 'object',
      required: ['token', 'expires_at'],
      properties: {
        token: { type: 'string', description: 'Pass it as `access_token` to GET /v1/agent/events.' },
        expires_at: ref('Timestamp'),
      },
    },
    StreamInteraction: {
      description: 'Data of an `interaction` event: the agent and the §3 history row.',
      allOf: [ref('HistoryRow'), { required: ['agent_id'], properties: { agent_id: ref('AgentId') } }],
    },
    StreamTelemetry: {
      type: 'object',
      description: 'Data of a `telemetry` event.',
      required: ['agent_id', 'time', 'usdc_balance_atomic', 'sol_balance_lamports', 'low_balance_warnings'],
      properties: {
        agent_id: ref('AgentId'),
        time: ref('Timestamp'),
        usdc_balance_atomic: { anyOf: [ref('AtomicAmount'), { type: 'null' }] },
        sol_balance_lamports: { anyOf: [ref('AtomicAmount'), { type: 'null' }] },
        low_balance_warnings: { type: ['integer', 'null'], minimum: 0 },
      },
    },
    StreamReset: {
      type: 'object',
      description: 'Data of a `reset` event: the stream cannot continue without a gap; reload through §3, then reconnect without an id.',
      required: ['reason'],
      properties: {
        reason: {
          type: 'string',
          description: 'For example `subscriber_too_slow`, `unknown_event_id`, `event_id_too_old`, `server_error`.',
        },
      },
    },
    Alert: {
      type: 'object',
      description: 'An alert (docs/read-api.md §5): at most one open alert per (agent, type).',
      required: ['id', 'agent_id', 'type', 'severity', 'state', 'message', 'data', 'fired_at', 'resolved_at', 'acknowledged_at'],
      properties: {
        id: { type: 'string', format: 'uuid' },
        agent_id: ref('AgentId'),
        type: { enum: ['low_balance', 'runway', 'spend_limit', 'high_error_rate', 'stale_telemetry'] },
        severity: { enum: ['info', 'warning', 'critical'] },
        state: { enum: ['firing', 'resolved'] },
        message: { type: 'string' },
        data: { type: 'object', description: 'The values that crossed, and the threshold.' },
        fired_at: ref('Timestamp'),
        resolved_at: { anyOf: [ref('Timestamp'), { type: 'null' }] },
        acknowledged_at: { anyOf: [ref('Timestamp'), { type: 'null' }] },
      },
    },
    AlertList: {
      type: 'object',
      required: ['data', 'next_cursor'],
      properties: { data: { type: 'array', items: ref('Alert') }, next_cursor: ref('NextCursor') },
    },
  };
}

const STREAM_DESCRIPTION = `Server-Sent Events. Every event has an \`id:\`; \`event:\` is one of:

| event | data (JSON) |
|---|---|
| \`interaction\` | StreamInteraction |
| \`telemetry\` | StreamTelemetry |
| \`alert\` | Alert, on every change of state |
| \`reset\` | StreamReset |

Reconnecting with \`Last-Event-ID\` (or \`last_event_id\`) delivers every event of the topic committed after that one, in commit order, none repeated, when it is at most 5 minutes old (configurable); older: a \`reset\` first. Only new rows are streamed, once each. A comment line (\`: ping\`) comes at least every 15 s. A subscriber that cannot keep up gets a \`reset\` and is closed.`;

export function livePaths() {
  return {
    '/v1/agent/events': {
      get: {
        operationId: 'streamAgentEvents',
        tags: ['live'],
        summary: 'Live interactions, telemetry and alerts (Server-Sent Events)',
        description: 'Authenticated as the other reads, or with a stream token in `access_token` (a browser’s EventSource cannot send headers); an open stream is not cut when its token expires.',
        security: [keyWith('read'), AGENT_SIGNED, { StreamToken: [] }],
        parameters: [
          { name: 'topic', in: 'query', required: true, schema: ref('Topic') },
          { name: 'last_event_id', in: 'query', description: 'Resume after this event (as the Last-Event-ID header).', schema: { type: 'string' } },
          { name: 'Last-Event-ID', in: 'header', description: 'Resume after this event; sent by EventSource when it reconnects.', schema: { type: 'string' } },
        ],
        responses: {
          200: {
            description: 'The stream.',
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
            content: { 'text/event-stream': { schema: { type: 'string', description: STREAM_DESCRIPTION } } },
          },
          ...errorResponses(['invalid_query', 'not_found', ...AUTH]),
        },
      },
    },
    '/v1/stream/tokens': {
      post: {
        operationId: 'createStreamToken',
        tags: ['live'],
        summary: 'A short-lived token that opens streams of the given topics',
        description: 'Valid for 10 minutes. Each agent topic must name an agent linked to the key’s tenant. Issued to API keys only (an agent signature is `forbidden`).',
        security: [keyWith('read')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('StreamTokenRequest') } } },
        responses: {
          201: { description: 'The token.', content: { 'application/json': { schema: ref('StreamToken') } } },
          ...errorResponses(['invalid_request', 'not_found', 'body_too_large', ...AUTH]),
        },
      },
    },
    '/v1/agent/alerts': {
      get: {
        operationId: 'listAgentAlerts',
        tags: ['alerts'],
        summary: 'The agent’s alerts, newest first',
        security: [keyWith('read'), AGENT_SIGNED],
        parameters: [
          AGENT_ID,
          { name: 'state', in: 'query', description: 'Which alerts; default all.', schema: { enum: ['firing', 'resolved', 'all'], default: 'all' } },
          ...PAGE,
        ],
        responses: {
          200: { description: 'A page of alerts.', content: { 'application/json': { schema: ref('AlertList') } } },
          ...errorResponses(['invalid_query', 'not_found', ...AUTH]),
        },
      },
    },
    '/v1/agent/alerts/{id}/ack': {
      post: {
        operationId: 'acknowledgeAlert',
        tags: ['alerts'],
        summary: 'Acknowledge an alert',
        description:
          'Sets `acknowledged_at`; acknowledging again changes nothing. A read key acknowledges the alerts of its tenant’s agents, an agent its own; any other alert is `not_found`. A body, if sent (`{}`), is ignored; it is covered by the agent signature.',
        security: [keyWith('read'), AGENT_SIGNED],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        requestBody: { required: false, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: {
          200: { description: 'The alert.', content: { 'application/json': { schema: ref('Alert') } } },
          ...errorResponses(['not_found', 'body_too_large', ...AUTH]),
        },
      },
    },
  };
}
