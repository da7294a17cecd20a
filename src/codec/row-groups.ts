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
  /** Gateway groups only (absent counts 0): rows by class of status_code; 1xx is the rest. */
  status2xx?: number;
  status3xx?: number;
  status4xx?: number;
  status5xx?: number;
  /** Gateway groups only (absent counts 0): rows whose payment_verified is true. */
  paymentsVerified?: number;
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
  /** Per row: OUTCOME_SUCCESS, the status class (gateways) and OUTCOME_VERIFIED, as bits of one small integer. */
  private outcomes: number[] = [];
  private latencies: number[] = [];
  private amounts: unknown[] = [];

  get size(): number {
    return this.kinds.length;
  }

  mark(): number {
    return this.kinds.length;
  }

  rollback(mark: number): void {
    for (const a of [this.kinds, this.minutes, this.entities, this.vendors, this.tenants, this.outcomes, this.latencies, this.amounts]) a.length = mark;
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
    this.outcomes.push(kind === 'agent' ? (d.success === true ? OUTCOME_SUCCESS : 0) : gatewayOutcome(d.status_code as number, d.payment_verified === true));
    this.latencies.push(d.latency_ms as number);
    this.amounts.push(d.amount_atomic);
  }

  /**
   * The rows grouped, in the form a worker posts back: a few typed arrays and one string,
   * not an object per group (structured cloning walks objects field by field). Groups come
   * in order of their first row, each group's latencies in row order.
   */
  pack(): PackedGroups {
    const n = this.kinds.length;
    if (n === 0) return NO_GROUPS;
    // Two levels: (kind, minute, entity, tenant), then vendor. Rows of one request share the
    // first level, so a row usually costs four comparisons and one lookup of its vendor, not
    // a key string built and hashed per row.
    const byOwner = new Map<string, Map<string, number>>();
    let byVendor = new Map<string, number>();
    let kind0 = '';
    let minute0 = -1;
    let entity0 = '';
    let tenant0 = '';
    let count = 0;
    const rowGroup = new Uint32Array(n);
    const nums: number[] = [];
    const names: string[] = [];
    const spends: (number | bigint)[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.kinds[i] as 'agent' | 'gateway';
      const minute = this.minutes[i] as number;
      const entity = this.entities[i] as string;
      const vendorId = this.vendors[i] as string;
      const tenantId = this.tenants[i] as string;
      if (minute !== minute0 || entity !== entity0 || kind !== kind0 || tenantId !== tenant0) {
        const owner = `${kind}${SEP}${minute}${SEP}${entity}${SEP}${tenantId}`;
        const known = byOwner.get(owner);
        if (known === undefined) byOwner.set(owner, (byVendor = new Map()));
        else byVendor = known;
        kind0 = kind;
        minute0 = minute;
        entity0 = entity;
        tenant0 = tenantId;
      }
      let g = byVendor.get(vendorId);
      if (g === undefined) {
        g = count++;
        byVendor.set(vendorId, g);
        nums.push(minute, 0, 0, 0, 0, 0, 0, 0);
        names.push(kind, entity, vendorId, tenantId);
        spends.push(0);
      }
      rowGroup[i] = g;
      const o = g * NUMS_PER_GROUP;
      (nums[o + 1] as number)++;
      const outcome = this.outcomes[i] as number;
      if ((outcome & OUTCOME_SUCCESS) !== 0) (nums[o + 2] as number)++;
      // Status class c (2..5) counts at o + 1 + c: slots 3..6; 1xx has no slot of its own.
      const cls = (outcome >> OUTCOME_CLASS_SHIFT) & 7;
      if (cls >= 2) (nums[o + 1 + cls] as number)++;
      if ((outcome & OUTCOME_VERIFIED) !== 0) (nums[o + 7] as number)++;
      // Validated already: a safe integer, a decimal string within int64, or absent.
      const amount = this.amounts[i] as number | string | null | undefined;
      if (amount !== undefined && amount !== null) spends[g] = addSpend(spends[g] as number | bigint, amount);
    }
    // Latencies laid out group after group: start offsets from the counts, then one pass.
    const next = new Uint32Array(count);
    for (let g = 1; g < count; g++) next[g] = (next[g - 1] as number) + (nums[(g - 1) * NUMS_PER_GROUP + 1] as number);
    const latencies = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const g = rowGroup[i] as number;
      const at = next[g] as number;
      latencies[at] = this.latencies[i] as number;
      next[g] = at + 1;
    }
    let text = '';
    for (let g = 0; g < count; g++) {
      const t = g * 4;
      text += `${g === 0 ? '' : SEP}${names[t]}${SEP}${names[t + 1]}${SEP}${names[t + 2]}${SEP}${names[t + 3]}${SEP}${spends[g]}`;
    }
    return { count, nums: Float64Array.from(nums), latencies, text };
  }
}

/** Exact while the sum is a safe integer, as a bigint past that. */
function addSpend(sum: number | bigint, amount: number | string): number | bigint {
  if (typeof sum === 'number') {
    // A decimal string of up to 15 digits is a safe integer.
    const v = typeof amount === 'number' ? amount : amount.length <= 15 ? Number(amount) : NaN;
    const total = sum + v;
    if (Number.isSafeInteger(total)) return total;
    return BigInt(sum) + BigInt(amount);
  }
  return sum + BigInt(amount);
}

/** The outcome bits of a gateway row: success below 400, its status class, verified payment. */
function gatewayOutcome(status: number, verified: boolean): number {
  return (status < 400 ? OUTCOME_SUCCESS : 0) | (Math.floor(status / 100) << OUTCOME_CLASS_SHIFT) | (verified ? OUTCOME_VERIFIED : 0);
}

const OUTCOME_SUCCESS = 1;
const OUTCOME_VERIFIED = 2;
/** Bits 2..4: the hundreds digit of a gateway's status_code (1..5; 0 for agents). */
const OUTCOME_CLASS_SHIFT = 2;

/** RowTally.pack(): per group `minute, requests, successes, 2xx, 3xx, 4xx, 5xx, verified` in `nums`, its `requests`
 *  latencies in order in `latencies`, and `kind, entity, vendor, tenant, spend` in `text`. */
export interface PackedGroups {
  count: number;
  nums: Float64Array;
  latencies: Float64Array;
  text: string;
}

const NUMS_PER_GROUP = 8;
const TEXT_PER_GROUP = 5;
/** Cannot occur in any of the texts: PostgreSQL text refuses NUL, so validation does too. */
const SEP = '\u0000';

export const NO_GROUPS: PackedGroups = { count: 0, nums: new Float64Array(0), latencies: new Float64Array(0), text: '' };

/** The groups of `packed` appended to `into`. */
export function unpackGroups(packed: PackedGroups, into: RowGroup[]): void {
  if (packed.count === 0) return;
  const text = packed.text.split(SEP);
  const { nums, latencies } = packed;
  let l = 0;
  for (let i = 0; i < packed.count; i++) {
    const o = i * NUMS_PER_GROUP;
    const t = i * TEXT_PER_GROUP;
    const requests = nums[o + 1] as number;
    const successes = nums[o + 2] as number;
    const lat = new Array<number>(requests);
    for (let k = 0; k < requests; k++) lat[k] = latencies[l++] as number;
    const spend = text[t + 4] as string;
    const kind = text[t] as 'agent' | 'gateway';
    const group: RowGroup = {
      kind,
      minute: nums[o] as number,
      entity: text[t + 1] as string,
      vendorId: text[t + 2] as string,
      tenantId: text[t + 3] as string,
      requests,
      successes,
      failures: requests - successes,
      spendAtomic: spend === '0' ? 0n : BigInt(spend),
      latencies: lat,
    };
    if (kind === 'gateway') {
      group.status2xx = nums[o + 3] as number;
      group.status3xx = nums[o + 4] as number;
      group.status4xx = nums[o + 5] as number;
      group.status5xx = nums[o + 6] as number;
      group.paymentsVerified = nums[o + 7] as number;
    }
    into.push(group);
  }
}
