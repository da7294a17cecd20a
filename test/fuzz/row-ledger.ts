/**
 * "Not one row from an invalid event": every event the fuzzer sends that could become a
 * row is registered under its natural key with its verdict and, once answered, its fate.
 * At the end every stored row must belong to an event that was acknowledged (or whose
 * request went unanswered) and was not generated invalid; every acknowledged event must
 * have its row; columns recorded for hostile-but-valid strings and int64 edges must hold
 * exactly what was sent.
 */
import pg from 'pg';
import { KEYS_PER_CASE, NONCE_BASE, caseOfPeriodEnd } from './event-model.js';
import type { EventExpectation, Table } from './fuzz-case.js';
import type { EventFate } from './response-oracle.js';

const VERDICTS = ['accept', 'reject', 'either'] as const;
const FATES: readonly EventFate[] = ['accepted', 'rejected', 'unknown'];

/** One registration packed in a number: case id, verdict and fate (a run registers ~10^5–10^6). */
function pack(caseId: number, verdict: EventExpectation['verdict'], fate: EventFate): number {
  return caseId * 16 + VERDICTS.indexOf(verdict) * 4 + FATES.indexOf(fate);
}
function unpack(n: number): { caseId: number; verdict: EventExpectation['verdict']; fate: EventFate } {
  return { caseId: Math.floor(n / 16), verdict: VERDICTS[(n >> 2) & 3] as EventExpectation['verdict'], fate: FATES[n & 3] as EventFate };
}

export interface LedgerProblem {
  caseId: number | null;
  text: string;
}

interface StoredRow {
  key: string;
  tenant?: string;
  columns: Record<string, string | null>;
}

const TEXT_COLUMNS: Record<Table, string[]> = {
  agent_interactions: ['vendor_id', 'request_url', 'request_method', 'token_mint', 'error_type', 'error_message', 'signature', 'nonce', 'amount_atomic', 'latency_ms', 'success'],
  agent_telemetry: ['sol_balance_lamports', 'usdc_balance_atomic', 'sdk_version'],
  gateway_telemetry: ['gateway_id', 'vendor_id', 'route', 'method', 'status_code', 'latency_ms', 'agent_id', 'amount_atomic', 'payment_verified', 'error_code'],
};

/** What marks a row as made by this run's generated cases (not the corpus's). */
export interface RunIdentity {
  runTag: string;
  agents: ReadonlySet<string>;
}

/**
 * The generated case a row most likely came from, read off its key (event-model.ts makes
 * keys from case indices): for rows that match no registration, so the case can be kept.
 */
export function caseOfRow(table: Table, key: string, run: RunIdentity): number | null {
  const [left = '', right = ''] = key.split('|');
  if (table === 'gateway_telemetry') {
    const m = /^https:\/\/gw\.fuzz\.test\/([^/]+)\/(\d+)/.exec(left);
    return m === null || m[1] !== run.runTag ? null : Number(m[2]);
  }
  if (!run.agents.has(left)) return null;
  const n = Number(right);
  if (table === 'agent_telemetry') return caseOfPeriodEnd(n);
  return Number.isSafeInteger(n) && n >= NONCE_BASE ? Math.floor((n - NONCE_BASE) / KEYS_PER_CASE) : null;
}

const KEY_SQL: Record<Table, string> = {
  agent_interactions: "agent_id || '|' || nonce::text",
  agent_telemetry: "agent_id || '|' || extract(epoch from time)::bigint::text",
  gateway_telemetry: "event_source || '|' || event_id",
};

export class RowLedger {
  private readonly entries = new Map<string, number | number[]>();
  private readonly columns = new Map<string, { caseId: number; columns: Record<string, string | null> }[]>();
  /** Agents with at least one request that may have been stored (202, or no answer). */
  readonly agentsMaybeStored = new Set<string>();
  registrations = 0;

  register(caseId: number, exp: EventExpectation, fate: EventFate): void {
    for (const row of exp.altRows ?? []) this.register(caseId, { verdict: 'either', codes: [], id: null, row, mutation: 'alt' }, 'unknown');
    if (exp.row === undefined) return;
    // Refused (or in a refused request) under a key valid events of other cases share: nothing to check.
    if (exp.sharedRow === true && exp.verdict === 'reject') return;
    // With another possible key, which one holds the row is the server's choice.
    if (exp.altRows !== undefined && fate === 'accepted') fate = 'unknown';
    const id = `${exp.row.table}\u0001${exp.row.key}`;
    const packed = pack(caseId, exp.verdict, fate);
    const prev = this.entries.get(id);
    if (prev === undefined) this.entries.set(id, packed);
    else if (typeof prev === 'number') this.entries.set(id, [prev, packed]);
    else prev.push(packed);
    this.registrations++;
    if (fate === 'accepted' && exp.row.columns !== undefined && Object.keys(exp.row.columns).length > 0) {
      const list = this.columns.get(id) ?? [];
      list.push({ caseId, columns: exp.row.columns });
      this.columns.set(id, list);
    }
  }

  /** Compares the database with the ledger. `opaque`: agents and tenant whose rows are not checked one by one. */
  async verify(
    databaseUrl: string,
    opaque: { agents: ReadonlySet<string>; tenant: string; primaryTenant: string; knownAgents: ReadonlySet<string>; run: RunIdentity },
  ): Promise<{ problems: LedgerProblem[]; rows: Record<string, number> }> {
    const problems: LedgerProblem[] = [];
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const rowsByTable: Record<string, number> = {};
    const present = new Set<string>();
    try {
      for (const table of Object.keys(KEY_SQL) as Table[]) {
        const cols = TEXT_COLUMNS[table].map((c) => `${c}::text AS ${c}`).join(', ');
        const tenant = table === 'gateway_telemetry' ? ', tenant_id' : '';
        const agent = table === 'gateway_telemetry' ? '' : ', agent_id';
        const res = await client.query<Record<string, string | null>>(`SELECT ${KEY_SQL[table]} AS key${tenant}${agent}, ${cols} FROM ${table}`);
        rowsByTable[table] = res.rows.length;
        for (const r of res.rows) {
          const row: StoredRow = { key: r.key as string, ...(r.tenant_id === undefined ? {} : { tenant: r.tenant_id as string }), columns: r };
          const isOpaque = table === 'gateway_telemetry' ? row.tenant === opaque.tenant : opaque.agents.has(r.agent_id as string);
          if (isOpaque) continue;
          const id = `${table}\u0001${row.key}`;
          present.add(id);
          this.checkRow(table, row, id, problems, opaque.primaryTenant, opaque.run);
        }
      }
      const agents = await client.query<{ pubkey: string }>('SELECT pubkey FROM agents');
      for (const { pubkey } of agents.rows) {
        if (!opaque.knownAgents.has(pubkey)) problems.push({ caseId: null, text: `agents has ${pubkey}, an agent the fuzzer never signed as` });
        else if (!this.agentsMaybeStored.has(pubkey) && !opaque.agents.has(pubkey)) {
          problems.push({ caseId: null, text: `agents has ${pubkey}, which never had a request acknowledged` });
        }
      }
    } finally {
      await client.end();
    }
    for (const [id, v] of this.entries) {
      if (present.has(id)) continue;
      for (const n of typeof v === 'number' ? [v] : v) {
        const reg = unpack(n);
        if (reg.fate === 'accepted') {
          problems.push({ caseId: reg.caseId, text: `acknowledged event ${id.replace('\u0001', ' ')} has no row (lost after a 202)` });
          break;
        }
      }
    }
    return { problems, rows: rowsByTable };
  }

  private checkRow(table: Table, row: StoredRow, id: string, problems: LedgerProblem[], primaryTenant: string, run: RunIdentity): void {
    const v = this.entries.get(id);
    const show = `${table} row ${JSON.stringify(row.key.slice(0, 200))}`;
    if (v === undefined) {
      problems.push({ caseId: caseOfRow(table, row.key, run), text: `${show} matches no event the fuzzer sent as valid (an invalid value stored under another key?) columns=${JSON.stringify(row.columns).slice(0, 400)}` });
      return;
    }
    const regs = (typeof v === 'number' ? [v] : v).map(unpack);
    const invalid = regs.find((r) => r.verdict === 'reject');
    if (invalid !== undefined) problems.push({ caseId: invalid.caseId, text: `${show} exists, but case ${invalid.caseId} generated that event invalid` });
    if (!regs.some((r) => r.fate !== 'rejected')) problems.push({ caseId: regs[0]?.caseId ?? null, text: `${show} exists, but every request carrying it was refused` });
    if (table === 'gateway_telemetry' && row.tenant !== primaryTenant) problems.push({ caseId: regs[0]?.caseId ?? null, text: `${show} has tenant ${row.tenant}, not the key's ${primaryTenant}` });
    // Exact storage is checked when one request alone can have written the row: a key that
    // several acknowledged events share (edge nonces) holds whichever came first.
    const live = regs.filter((r) => r.fate !== 'rejected');
    if (live.length !== 1) return;
    for (const expected of this.columns.get(id) ?? []) {
      if (expected.caseId !== live[0]?.caseId) continue;
      for (const [col, want] of Object.entries(expected.columns)) {
        const got = row.columns[col];
        if (got !== want) {
          problems.push({ caseId: expected.caseId, text: `${show}: column ${col} is ${JSON.stringify(got)?.slice(0, 200)}, sent ${JSON.stringify(want)?.slice(0, 200)}` });
        }
      }
    }
  }
}
