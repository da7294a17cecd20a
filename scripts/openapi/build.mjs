// Builds docs/openapi.json, the OpenAPI 3.1 document the receiver serves at GET /openapi.json
// (docs/read-api.md §8), from the parts in this folder and the event schemas of docs/schemas.
//
//   node scripts/openapi/build.mjs           rewrites docs/openapi.json
//   node scripts/openapi/build.mjs --check   exits 1 when docs/openapi.json is not what it would write
import { readFileSync, writeFileSync } from 'node:fs';
import { commonParameters, commonSchemas, securitySchemes } from './common.mjs';
import { errorHeaders, errorSchemas } from './errors.mjs';
import { ingestParameters, ingestPaths, ingestSchemas } from './ingest.mjs';
import { livePaths, liveSchemas } from './live.mjs';
import { readPaths, readSchemas } from './read.mjs';
import { webhookDeliveries, webhookPaths, webhookSchemas } from './webhooks.mjs';

const OUTPUT = new URL('../../docs/openapi.json', import.meta.url);

const DESCRIPTION = `Signed telemetry of x402 agent payments in, durable rows in PostgreSQL, and what agent owners and sellers read back out.

- Ingest: docs/protocol.md (protocol v1.1): POST /v1/agent for agents (an Ed25519 signature over each request), POST /v1/ingest for gateways (an API key).
- Read side: docs/read-api.md: linking agents to a tenant, metrics and history, live events, alerts and webhooks.

Conventions: amounts (\`*_atomic\`, \`*_lamports\`, \`nonce\`) are decimal strings in answers (exact int64 or sums of them); times are RFC 3339 UTC; latencies are milliseconds. Read-side lists are newest first and paginated by an opaque \`cursor\` (keyset) with \`next_cursor\` null on the last page; a query parameter an endpoint does not take, one given twice, or a malformed value is 400 \`invalid_query\` naming it. Every error has the body \`{"error": {"code", "message"}}\` with a stable code (components.schemas.ErrorCode lists each with its status). Any unknown path is answered 404 \`not_found\`, and a known path used with another method 405 \`method_not_allowed\` with an \`Allow\` header. Every response carries a \`Date\` header.`;

export function buildDocument() {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return {
    openapi: '3.1.1',
    info: {
      title: 'machpay-receiver',
      version: pkg.version,
      summary: 'High-throughput telemetry receiver for x402 agent payments',
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'ingest', description: 'Events in (docs/protocol.md).' },
      { name: 'operations', description: 'Probes, metrics and this document.' },
      { name: 'linking', description: 'Agents linked to a tenant (docs/read-api.md §2).' },
      { name: 'agents', description: 'The tenant’s agents (docs/read-api.md §2).' },
      { name: 'metrics', description: 'Metrics and history (docs/read-api.md §3).' },
      { name: 'live', description: 'Server-Sent Events (docs/read-api.md §4).' },
      { name: 'alerts', description: 'Alert settings and alerts (docs/read-api.md §5).' },
      { name: 'webhooks', description: 'Webhooks (docs/read-api.md §6).' },
    ],
    security: [],
    paths: { ...ingestPaths(), ...readPaths(), ...livePaths(), ...webhookPaths() },
    webhooks: webhookDeliveries(),
    components: {
      schemas: { ...errorSchemas(), ...commonSchemas(), ...ingestSchemas(), ...readSchemas(), ...liveSchemas(), ...webhookSchemas() },
      parameters: { ...commonParameters(), ...ingestParameters() },
      headers: errorHeaders(),
      securitySchemes: securitySchemes(),
    },
  };
}

export function documentText() {
  return `${JSON.stringify(buildDocument(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && new URL(`file://${process.argv[1]}`).href === import.meta.url) {
  const text = documentText();
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUTPUT, 'utf8');
    if (current !== text) {
      console.error('docs/openapi.json is out of date: run node scripts/openapi/build.mjs (or npm run docs)');
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
    console.log('docs/openapi.json written');
  }
}
