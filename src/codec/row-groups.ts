import type { Envelope } from './events/envelope.js';

/**
 * Accepted interaction and gateway rows, grouped by UTC minute, entity (agent or gateway)
 * and vendor: the input of the latency rollups. Workers tally the rows they encode, so a
 * batch whose COPY inserts every row (no duplicate) needs no second pass over its rows.
 */
export interface RowGroup {
  kind: 'agent' | 'gateway';
  /** Epoch ms of the UTC minute start of the rows' `time`. */
  minute: number;
  /** agent_id (kind agent) or gateway_id (kind gateway). */
  entity: string;
  vendorId: string;
  /** '' for agents; the API key's tenant for gateways. */
  tenantId: string;
  requests: number;
  /** agent: success = true; gateway: status_code < 400. */
  successes: number;
  failures: number;
  /** Exact sum of amount_atomic (NULL counts 0). */
  spendAtomic: bigint;
  /** latency_ms of every row of the group. */
  latencies: number[];
}

/**
 * Appends one entry per accepted row; `mark`/`rollback` follow the COPY writers so that a
 * request whose rows are rolled back leaves no entries either. Struct-of-arrays storage
 * keeps recording free of per-row objects.
 */
export class RowTally {
  private kinds: ('agent' | 'gateway')[] = [];
  private minutes: number[] = [];
  private entities: string[] = [];
  private vendors: string[] = [];
  private tenants: string[] = [];
  private successes: boolean[] = [];
  private latencies: number[] = [];
  private amounts: unknown[] = [];

  get size(): number {
    return this.kinds.length;
  }

  mark(): number {
    return this.kinds.length;
  }

  rollback(mark: number): void {
    for (const a of [this.kinds, this.minutes, this.entities, this.vendors, this.tenants, this.successes, this.latencies, this.amounts]) a.length = mark;
  }

  reset(): void {
    this.rollback(0);
  }

  /** Called after a row of a validated event was written: the envelope's values are checked. */
  record(kind: 'agent' | 'gateway', env: Envelope, tenantId: string): void {
    const d = env.data;
    this.kinds.push(kind);
    this.minutes.push(Math.floor(env.time.seconds / 60) * 60_000);
    this.entities.push((kind === 'agent' ? d.agent_id : d.gateway_id) as string);
    this.vendors.push(d.vendor_id as string);
    this.tenants.push(tenantId);
    this.successes.push(kind === 'agent' ? d.success === true : (d.status_code as number) < 400);
    this.latencies.push(d.latency_ms as number);
    this.amounts.push(d.amount_atomic);
  }

  groups(): RowGroup[] {
    const byKey = new Map<string, RowGroup>();
    for (let i = 0; i < this.kinds.length; i++) {
      const kind = this.kinds[i] as 'agent' | 'gateway';
      const minute = this.minutes[i] as number;
      const entity = this.entities[i] as string;
      const vendorId = this.vendors[i] as string;
      const tenantId = this.tenants[i] as string;
      const key = `${kind}\u0000${minute}\u0000${entity}\u0000${vendorId}\u0000${tenantId}`;
      let g = byKey.get(key);
      if (g === undefined) {
        g = { kind, minute, entity, vendorId, tenantId, requests: 0, successes: 0, failures: 0, spendAtomic: 0n, latencies: [] };
        byKey.set(key, g);
      }
      g.requests++;
      if (this.successes[i] === true) g.successes++;
      else g.failures++;
      g.latencies.push(this.latencies[i] as number);
      const amount = this.amounts[i];
      // Validated already: a safe integer, a decimal string within int64, or absent.
      if (amount !== undefined && amount !== null) g.spendAtomic += BigInt(amount as number | string);
    }
    return [...byKey.values()];
  }
}
