/**
 * The three COPY writers one worker fills from many requests, and the column lists the
 * sink names in `COPY table (cols…) FROM STDIN`. Columns are every column of
 * schema/postgres/001_initial.sql, in table order, so staging tables made with
 * `CREATE TEMP TABLE … (LIKE table)` take the rows as they are.
 */
import { CopyBinaryWriter } from './copy-binary-writer.js';
import { CopyTextWriter } from './copy-text-writer.js';
import type { RowTally } from './row-groups.js';

export const COPY_COLUMNS = {
  agent_interactions: [
    'time',
    'agent_id',
    'vendor_id',
    'request_url',
    'request_method',
    'amount_atomic',
    'token_mint',
    'nonce',
    'success',
    'latency_ms',
    'error_type',
    'error_message',
    'signature',
  ],
  agent_telemetry: [
    'time',
    'agent_id',
    'sol_balance_lamports',
    'usdc_balance_atomic',
    'low_balance_warnings',
    'period_seconds',
    'total_requests',
    'total_payments',
    'total_spend_atomic',
    'interactions',
    'sdk_version',
  ],
  gateway_telemetry: [
    'time',
    'tenant_id',
    'event_source',
    'event_id',
    'gateway_id',
    'vendor_id',
    'route',
    'method',
    'status_code',
    'latency_ms',
    'agent_id',
    'amount_atomic',
    'payment_verified',
    'risk_score',
    'error_code',
  ],
} as const satisfies Record<string, readonly string[]>;

/** The COPY format of each table's rows. */
export type CopyFormat = 'text' | 'binary';
export const COPY_FORMATS = {
  agent_interactions: 'binary',
  agent_telemetry: 'text',
  gateway_telemetry: 'text',
} as const satisfies Record<keyof typeof COPY_COLUMNS, CopyFormat>;

export class RowBatch {
  /** Binary: the busiest table, where PostgreSQL's cheaper parse of binary rows pays most. */
  readonly interactions: CopyBinaryWriter;
  readonly telemetry: CopyTextWriter;
  readonly gateway: CopyTextWriter;
  /** Scratch for building one telemetry row's JSONB document before it is copied in as a field. */
  readonly jsonScratch = new CopyTextWriter(4096);
  /** When set, every accepted interaction and gateway row is also tallied for the rollups. */
  tally: RowTally | null = null;

  constructor(initialBytes = 256 * 1024) {
    this.interactions = new CopyBinaryWriter(initialBytes);
    this.telemetry = new CopyTextWriter(initialBytes / 4);
    this.gateway = new CopyTextWriter(initialBytes);
  }

  /** Total rows in all three writers. */
  get rows(): number {
    return this.interactions.rows + this.telemetry.rows + this.gateway.rows;
  }

  get byteLength(): number {
    return this.interactions.byteLength + this.telemetry.byteLength + this.gateway.byteLength;
  }

  reset(): void {
    this.tally?.reset();
    this.interactions.reset();
    this.telemetry.reset();
    this.gateway.reset();
  }
}
