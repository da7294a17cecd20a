// The read side, docs/read-api.md §1–§3 and the settings of §5: linking, agents, metrics,
// vendors, history, balances, gateway metrics and alert settings.
import { AGENT_ID, AGENT_SIGNED, keyWith, PAGE, WINDOW } from './common.mjs';
import { errorResponses } from './errors.mjs';

const ref = (/** @type {string} */ name) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (/** @type {string} */ name) => ({ anyOf: [ref(name), { type: 'null' }] });
const json = (/** @type {string} */ description, /** @type {string} */ schema) => ({
  description,
  content: { 'application/json': { schema: ref(schema) } },
});

/** Codes every authenticated read operation can answer with, whoever may call it. */
const AUTH = ['missing_signature', 'bad_signature', 'timestamp_out_of_window', 'invalid_api_key', 'forbidden', 'internal_error', 'not_ready'];
const READ_BY_KEY_OR_AGENT = [keyWith('read'), AGENT_SIGNED];

const integer = { type: 'integer', minimum: 0 };

export function readSchemas() {
  return {
    LinkCode: {
      type: 'object',
      required: ['code', 'expires_at'],
      properties: {
        code: {
          type: 'string',
          pattern: '^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$',
          description: '8 characters of Crockford base32, shown with a dash; single use, valid 10 minutes. Give it to an admin of the tenant.',
        },
        expires_at: ref('Timestamp'),
      },
    },
    LinkInit: {
      type: 'object',
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1, maxLength: 128, description: 'A display name the confirmation uses unless it gives one.' } },
    },
    LinkConfirm: {
      type: 'object',
      additionalProperties: false,
      required: ['code'],
      properties: {
        code: { type: 'string', maxLength: 16, description: 'The link code, with or without its dash, any case.' },
        name: { type: ['string', 'null'], minLength: 1, maxLength: 128 },
      },
    },
    LinkedAgent: {
      type: 'object',
      required: ['agent_id', 'tenant_id', 'name', 'linked_at'],
      properties: { agent_id: ref('AgentId'), tenant_id: { type: 'string' }, name: { type: ['string', 'null'] }, linked_at: ref('Timestamp') },
    },
    AgentSummary: {
      type: 'object',
      required: ['agent_id', 'name', 'status', 'linked_at', 'first_seen_at', 'last_seen_at', 'balance'],
      properties: {
        agent_id: ref('AgentId'),
        name: { type: ['string', 'null'] },
        status: { type: 'string' },
        linked_at: nullable('Timestamp'),
        first_seen_at: ref('Timestamp'),
        last_seen_at: ref('Timestamp'),
        balance: nullable('BalanceSnapshot'),
      },
    },
    AgentList: {
      type: 'object',
      required: ['data', 'next_cursor'],
      properties: { data: { type: 'array', items: ref('AgentSummary') }, next_cursor: ref('NextCursor') },
    },
    ChartPoint: {
      type: 'object',
      description: 'One bucket of the window; every bucket is present, zeros where nothing happened.',
      required: ['bucket', 'requests', 'failed_requests', 'spend_atomic', 'p50_latency_ms', 'p99_latency_ms'],
      properties: {
        bucket: ref('Timestamp'),
        requests: integer,
        failed_requests: integer,
        spend_atomic: ref('AtomicAmount'),
        p50_latency_ms: ref('LatencyMs'),
        p99_latency_ms: ref('LatencyMs'),
      },
    },
    AgentMetrics: {
      type: 'object',
      description:
        'The agent’s figures over the window, widened to whole buckets (`from`, `to` are the widened window). `chart_data` buckets are 1 minute for windows up to 2 h, 1 hour up to 7 d, 1 day beyond, oldest first. `complete_through`: the figures include every event committed before it.',
      required: [
        'agent_id',
        'from',
        'to',
        'complete_through',
        'total_requests',
        'successful_requests',
        'failed_requests',
        'success_rate',
        'total_spend_atomic',
        'avg_latency_ms',
        'p50_latency_ms',
        'p99_latency_ms',
        'balance',
        'burn_rate_atomic_per_hour',
        'runway_hours',
        'chart_data',
      ],
      properties: {
        agent_id: ref('AgentId'),
        from: ref('Timestamp'),
        to: ref('Timestamp'),
        complete_through: ref('Timestamp'),
        total_requests: integer,
        successful_requests: integer,
        failed_requests: integer,
        success_rate: ref('Rate'),
        total_spend_atomic: ref('AtomicAmount'),
        avg_latency_ms: ref('LatencyMs'),
        p50_latency_ms: ref('LatencyMs'),
        p99_latency_ms: ref('LatencyMs'),
        balance: nullable('BalanceSnapshot'),
        burn_rate_atomic_per_hour: { ...ref('AtomicAmount'), description: 'Spend of the last 24 h per hour.' },
        runway_hours: { type: ['number', 'null'], minimum: 0, description: 'USDC balance ÷ burn rate; null when the rate is 0 or no balance is known.' },
        chart_data: { type: 'array', items: ref('ChartPoint') },
      },
    },
    VendorFigures: {
      type: 'object',
      required: ['vendor_id', 'request_count', 'successful_requests', 'failed_requests', 'success_rate', 'spend_atomic', 'avg_latency_ms', 'p50_latency_ms', 'p99_latency_ms'],
      properties: {
        vendor_id: { type: 'string', maxLength: 64 },
        request_count: integer,
        successful_requests: integer,
        failed_requests: integer,
        success_rate: ref('Rate'),
        spend_atomic: ref('AtomicAmount'),
        avg_latency_ms: ref('LatencyMs'),
        p50_latency_ms: ref('LatencyMs'),
        p99_latency_ms: ref('LatencyMs'),
      },
    },
    AgentVendors: {
      type: 'object',
      description: 'Per vendor over the window, by spend descending, then vendor_id.',
      required: ['agent_id', 'from', 'to', 'complete_through', 'vendors'],
      properties: {
        agent_id: ref('AgentId'),
        from: ref('Timestamp'),
        to: ref('Timestamp'),
        complete_through: ref('Timestamp'),
        vendors: { type: 'array', items: ref('VendorFigures') },
      },
    },
    HistoryRow: {
      type: 'object',
      description: 'One stored interaction (docs/protocol.md §5).',
      required: ['time', 'vendor_id', 'nonce', 'amount_atomic', 'token_mint', 'request_url', 'request_method', 'success', 'latency_ms', 'error_type', 'error_message', 'signature'],
      properties: {
        time: ref('Timestamp'),
        vendor_id: { type: 'string' },
        nonce: ref('Int64String'),
        amount_atomic: nullable('AtomicAmount'),
        token_mint: { type: ['string', 'null'] },
        request_url: { type: ['string', 'null'] },
        request_method: { type: ['string', 'null'] },
        success: { type: 'boolean' },
        latency_ms: integer,
        error_type: { type: ['string', 'null'] },
        error_message: { type: ['string', 'null'] },
        signature: { type: ['string', 'null'] },
      },
    },
    History: {
      type: 'object',
      required: ['data', 'next_cursor'],
      properties: { data: { type: 'array', items: ref('HistoryRow') }, next_cursor: ref('NextCursor') },
    },
    BalancePoint: {
      type: 'object',
      required: ['time', 'usdc_balance_atomic', 'sol_balance_lamports'],
      properties: {
        time: ref('Timestamp'),
        usdc_balance_atomic: nullable('AtomicAmount'),
        sol_balance_lamports: nullable('AtomicAmount'),
      },
    },
    BalanceHistory: {
      type: 'object',
      description: 'The telemetry snapshots of the window, oldest first; past 1000, the last snapshot of each of 1000 equal slices of the window.',
      required: ['agent_id', 'points'],
      properties: {
        agent_id: ref('AgentId'),
        from: ref('Timestamp'),
        to: ref('Timestamp'),
        points: { type: 'array', maxItems: 1000, items: ref('BalancePoint') },
      },
    },
    StatusClasses: {
      type: 'object',
      description: 'Requests by HTTP status class of the gateway’s answer; 1xx answers are the rest of the requests.',
      required: ['2xx', '3xx', '4xx', '5xx'],
      properties: { '2xx': integer, '3xx': integer, '4xx': integer, '5xx': integer },
      additionalProperties: integer,
    },
    GatewayChartPoint: {
      type: 'object',
      description: 'One bucket of the gateway’s window: the agent chart’s figures, its status classes and verified payments.',
      required: ['bucket', 'requests', 'failed_requests', 'spend_atomic', 'p50_latency_ms', 'p99_latency_ms', 'status_classes', 'payments_verified'],
      properties: {
        bucket: ref('Timestamp'),
        requests: integer,
        failed_requests: integer,
        spend_atomic: ref('AtomicAmount'),
        p50_latency_ms: ref('LatencyMs'),
        p99_latency_ms: ref('LatencyMs'),
        status_classes: ref('StatusClasses'),
        payments_verified: integer,
      },
    },
    GatewayMetrics: {
      type: 'object',
      description:
        'The gateway’s figures over the window, built exactly like the agent metrics (same window, buckets, snapshot and `chart_data`). A request succeeds when its status is below 400. `status_classes` and `payments_verified` count the same rows, exactly, folded or still pending.',
      required: [
        'gateway_id',
        'from',
        'to',
        'complete_through',
        'total_requests',
        'successful_requests',
        'failed_requests',
        'success_rate',
        'total_spend_atomic',
        'avg_latency_ms',
        'p50_latency_ms',
        'p99_latency_ms',
        'status_classes',
        'payments_verified',
        'chart_data',
      ],
      properties: {
        gateway_id: { type: 'string', maxLength: 64 },
        from: ref('Timestamp'),
        to: ref('Timestamp'),
        complete_through: ref('Timestamp'),
        total_requests: integer,
        successful_requests: integer,
        failed_requests: integer,
        success_rate: ref('Rate'),
        total_spend_atomic: ref('AtomicAmount'),
        avg_latency_ms: ref('LatencyMs'),
        p50_latency_ms: ref('LatencyMs'),
        p99_latency_ms: ref('LatencyMs'),
        status_classes: ref('StatusClasses'),
        payments_verified: { ...integer, description: 'Requests whose payment the gateway verified.' },
        chart_data: { type: 'array', items: ref('GatewayChartPoint') },
      },
    },
    AgentSettings: {
      type: 'object',
      description: 'The effective alert settings of an agent (docs/read-api.md §5): its own values, else the configured defaults.',
      required: ['agent_id', 'low_balance_threshold_atomic', 'runway_alert_hours', 'daily_spend_limit_atomic', 'error_rate_threshold', 'error_rate_min_requests', 'alerts_enabled', 'defaults'],
      properties: {
        agent_id: ref('AgentId'),
        low_balance_threshold_atomic: { type: 'string', pattern: '^[0-9]{1,19}$' },
        runway_alert_hours: { type: 'number', minimum: 0, maximum: 87600 },
        daily_spend_limit_atomic: { type: 'string', pattern: '^[0-9]{1,19}$' },
        error_rate_threshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        error_rate_min_requests: { type: 'integer', minimum: 1, maximum: 1000000 },
        alerts_enabled: { type: 'boolean' },
        defaults: {
          type: 'array',
          description: 'The fields that follow the configured default (the agent has no value of its own).',
          items: { enum: ['low_balance_threshold_atomic', 'runway_alert_hours', 'daily_spend_limit_atomic', 'error_rate_threshold', 'error_rate_min_requests', 'alerts_enabled'] },
        },
      },
    },
    AgentSettingsUpdate: {
      type: 'object',
      description: 'Any of the settings; null puts a field back to the configured default. An unknown field or a value out of range is 400 `invalid_settings`, naming the field, and nothing is written.',
      additionalProperties: false,
      properties: {
        low_balance_threshold_atomic: {
          description: 'Default "5000000" (5 USDC). A decimal string (or a JSON integer up to 2^53 − 1).',
          anyOf: [{ type: 'string', pattern: '^[0-9]{1,19}$' }, { type: 'integer', minimum: 0, maximum: 9007199254740991 }, { type: 'null' }],
        },
        runway_alert_hours: { description: 'Default 24.', type: ['number', 'null'], minimum: 0, maximum: 87600 },
        daily_spend_limit_atomic: {
          description: 'Default "100000000" (100 USDC). A decimal string (or a JSON integer up to 2^53 − 1).',
          anyOf: [{ type: 'string', pattern: '^[0-9]{1,19}$' }, { type: 'integer', minimum: 0, maximum: 9007199254740991 }, { type: 'null' }],
        },
        error_rate_threshold: { description: 'Default 0.2.', type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1 },
        error_rate_min_requests: { description: 'Default 20.', type: ['integer', 'null'], minimum: 1, maximum: 1000000 },
        alerts_enabled: { description: 'Default true.', type: ['boolean', 'null'] },
      },
    },
  };
}

const agentIdPath = {
  name: 'agent_id',
  in: 'path',
  required: true,
  description: 'The agent (base58 public key).',
  schema: ref('AgentId'),
};

/** An agent-scoped GET of §3: a read key (with agent_id) or the agent itself. */
function agentRead(/** @type {string} */ operationId, /** @type {string} */ summary, /** @type {string} */ description, /** @type {unknown[]} */ parameters, /** @type {string} */ schema) {
  return {
    get: {
      operationId,
      tags: ['metrics'],
      summary,
      description,
      security: READ_BY_KEY_OR_AGENT,
      parameters,
      responses: { 200: json(summary, schema), ...errorResponses(['invalid_query', 'not_found', ...AUTH]) },
    },
  };
}

export function readPaths() {
  return {
    '/v1/link/init': {
      post: {
        operationId: 'initAgentLink',
        tags: ['linking'],
        summary: 'Ask for a link code (the agent)',
        description:
          'Signed by the agent itself (docs/protocol.md §3, path `/v1/link/init`); an API key is refused with `forbidden`. A new code replaces the agent’s earlier one. An empty body is taken as `{}`.',
        security: [AGENT_SIGNED],
        requestBody: { required: false, content: { 'application/json': { schema: ref('LinkInit') } } },
        responses: { 201: json('A new link code.', 'LinkCode'), ...errorResponses(['invalid_request', 'body_too_large', ...AUTH]) },
      },
    },
    '/v1/link/confirm': {
      post: {
        operationId: 'confirmAgentLink',
        tags: ['linking'],
        summary: 'Link an agent to the key’s tenant with its code (tenant admin)',
        description:
          'Confirming again for the same tenant is a no-op 200. Attempts are rate limited per key (`rate_limited`, with Retry-After).',
        security: [keyWith('admin')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('LinkConfirm') } } },
        responses: {
          200: json('The agent is linked to the tenant.', 'LinkedAgent'),
          ...errorResponses(['invalid_request', 'invalid_link_code', 'already_linked', 'body_too_large', 'rate_limited', ...AUTH]),
        },
      },
    },
    '/v1/agents/{agent_id}/link': {
      delete: {
        operationId: 'unlinkAgent',
        tags: ['linking'],
        summary: 'Unlink an agent from the key’s tenant (tenant admin)',
        security: [keyWith('admin')],
        parameters: [agentIdPath],
        responses: { 204: { description: 'Unlinked.' }, ...errorResponses(['not_found', ...AUTH]) },
      },
    },
    '/v1/agents': {
      get: {
        operationId: 'listAgents',
        tags: ['agents'],
        summary: 'The agents linked to the key’s tenant',
        description: 'Most recently seen first, each with its latest telemetry snapshot.',
        security: [keyWith('read')],
        parameters: PAGE,
        responses: { 200: json('A page of agents.', 'AgentList'), ...errorResponses(['invalid_query', ...AUTH]) },
      },
    },
    '/v1/agent/metrics': agentRead(
      'getAgentMetrics',
      'Requests, spend, latency, balance, burn rate and runway of an agent',
      'Counts and spend equal those of the stored rows of the window once `complete_through` has passed the commit of the last event sent (docs/read-api.md §3).',
      [AGENT_ID, ...WINDOW],
      'AgentMetrics',
    ),
    '/v1/agent/vendors': agentRead('getAgentVendors', 'The agent’s figures per vendor', 'Over the same window as the metrics.', [AGENT_ID, ...WINDOW], 'AgentVendors'),
    '/v1/agent/history': agentRead(
      'getAgentHistory',
      'The agent’s stored interactions',
      'Newest first by (time, nonce). The window is optional here (without one, all stored rows); paging while new rows arrive shows every row that existed when the first page was read exactly once.',
      [
        AGENT_ID,
        ...WINDOW,
        ...PAGE,
        { name: 'vendor_id', in: 'query', description: 'Only this vendor.', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,64}$' } },
        { name: 'success', in: 'query', description: 'Only successful (true) or failed (false) interactions.', schema: { type: 'boolean' } },
      ],
      'History',
    ),
    '/v1/agent/balance': agentRead('getAgentBalance', 'The agent’s balance over time', 'From the telemetry snapshots of the window.', [AGENT_ID, ...WINDOW], 'BalanceHistory'),
    '/v1/gateway/metrics': {
      get: {
        operationId: 'getGatewayMetrics',
        tags: ['metrics'],
        summary: 'Requests, status classes, verified payments, spend and latency of a gateway',
        description:
          'For a read key of the gateway’s tenant (docs/read-api.md §3). Gateway ids are unique only within a tenant and a key sees only its own tenant’s rows: a gateway id of another tenant reads as one without traffic.',
        security: [keyWith('read')],
        parameters: [
          { name: 'gateway_id', in: 'query', required: true, description: 'The gateway, as its events name it.', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,64}$' } },
          ...WINDOW,
        ],
        responses: { 200: json('The gateway’s figures.', 'GatewayMetrics'), ...errorResponses(['invalid_query', ...AUTH]) },
      },
    },
    '/v1/agent/settings': {
      get: {
        operationId: 'getAgentSettings',
        tags: ['alerts'],
        summary: 'The agent’s alert settings',
        security: READ_BY_KEY_OR_AGENT,
        parameters: [AGENT_ID],
        responses: { 200: json('The effective settings.', 'AgentSettings'), ...errorResponses(['invalid_query', 'not_found', ...AUTH]) },
      },
      put: {
        operationId: 'updateAgentSettings',
        tags: ['alerts'],
        summary: 'Change the agent’s alert settings (tenant admin)',
        description: 'Only the fields present change.',
        security: [keyWith('admin')],
        parameters: [{ name: 'agent_id', in: 'query', required: true, description: 'The agent, linked to the key’s tenant.', schema: ref('AgentId') }],
        requestBody: { required: true, content: { 'application/json': { schema: ref('AgentSettingsUpdate') } } },
        responses: {
          200: json('The effective settings after the change.', 'AgentSettings'),
          ...errorResponses(['invalid_query', 'invalid_settings', 'not_found', 'body_too_large', ...AUTH]),
        },
      },
    },
  };
}
