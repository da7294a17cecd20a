/**
 * Runs cases against a receiver through many keep-alive lanes, judges each response
 * (response-oracle.ts), feeds the row ledger, watches the process, and keeps the numbers
 * the report prints: cases and outcomes per category, and what the HTTP layer did with
 * each kind of raw request.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { agentFromSeed } from './agent-book.js';
import { Lane, rawExchange, type ExchangeResult } from './http-client.js';
import type { FuzzCase, HttpCase, RawCase } from './fuzz-case.js';
import { checkShape, judge503, judgeHttpCase, type Verdict } from './response-oracle.js';
import { renderHttpCase, renderRawCase, type ApiKeys } from './request-render.js';
import { RowLedger } from './row-ledger.js';

export interface Failure {
  caseId: number;
  fuzzCase: FuzzCase;
  problems: string[];
}

export interface CategoryStats {
  cases: number;
  outcomes: Map<string, number>;
  failures: number;
}

export interface RunnerOptions {
  port: number;
  keys: ApiKeys;
  child: ChildProcess;
  concurrency: number;
  /** Per-request timeout for ordinary cases. */
  timeoutMs: number;
  /** Whether PostgreSQL was unavailable during [from, to] (performance.now() ms): only then is a 503 allowed. */
  postgresDownDuring?: (from: number, to: number) => boolean;
}

function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Resident memory of a process in MiB (Linux), or null. */
export function rssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Math.round(Number(m[1]) / 1024);
  } catch {
    return null;
  }
}

export class FuzzRunner {
  readonly stats = new Map<string, CategoryStats>();
  readonly failures: Failure[] = [];
  readonly ledger = new RowLedger();
  /** Raw case name (without numbers) → what happened → count. */
  readonly rawBehaviour = new Map<string, Map<string, number>>();
  /** A reused keep-alive connection closed under a request before any byte came back: resent on a fresh one. */
  staleRetries = 0;
  /** The first few cases that were resent so (for the report). */
  readonly staleRetryCases: string[] = [];
  peakRssMiB = 0;
  private processGone: string | null = null;
  private readonly lanes: Lane[];

  constructor(private readonly o: RunnerOptions) {
    this.lanes = Array.from({ length: o.concurrency }, () => new Lane(o.port));
    o.child.once('exit', (code, signal) => {
      this.processGone = `receiver exited (code ${code}, signal ${signal})`;
    });
  }

  get receiverGone(): string | null {
    return this.processGone;
  }

  /** Runs `count` cases made by `make(i)` over all lanes; `caseId(i)` names them in the ledger. */
  async run(count: number, make: (i: number) => FuzzCase, caseId: (i: number) => number, onProgress?: (done: number) => void): Promise<void> {
    let next = 0;
    let done = 0;
    const lane = async (l: Lane): Promise<void> => {
      while (next < count && this.processGone === null) {
        const i = next++;
        let c: FuzzCase;
        try {
          c = make(i);
        } catch (err) {
          throw new Error(`generating case ${caseId(i)} failed: ${(err as Error).stack ?? String(err)}`);
        }
        await this.runCase(c, caseId(i), l);
        done++;
        if (onProgress !== undefined && done % 5000 === 0) onProgress(done);
      }
    };
    const sampler = setInterval(() => {
      const rss = rssMiB(this.o.child.pid);
      if (rss !== null && rss > this.peakRssMiB) this.peakRssMiB = rss;
    }, 1000);
    try {
      await Promise.all(this.lanes.map(lane));
    } finally {
      clearInterval(sampler);
    }
  }

  close(): void {
    for (const l of this.lanes) l.close();
  }

  /** Bytes the server sent on a keep-alive connection while no request was waiting (a second answer to one request…). */
  get unsolicitedBytes(): number {
    return this.lanes.reduce((n, l) => n + l.unsolicited, 0);
  }

  async runCase(c: FuzzCase, caseId: number, lane: Lane): Promise<void> {
    const st = this.stats.get(c.category) ?? { cases: 0, outcomes: new Map(), failures: 0 };
    this.stats.set(c.category, st);
    st.cases++;
    const verdict = c.kind === 'http' ? await this.runHttp(c, caseId, lane) : await this.runRaw(c, caseId);
    bump(st.outcomes, verdict.outcome);
    if (this.processGone !== null) verdict.problems.push(this.processGone);
    if (verdict.problems.length > 0) {
      st.failures++;
      this.failures.push({ caseId, fuzzCase: c, problems: verdict.problems });
    }
  }

  private async runHttp(c: HttpCase, caseId: number, lane: Lane): Promise<Verdict> {
    const payload = renderHttpCase(c, this.o.keys, this.o.port);
    const sentAt = performance.now();
    const big = payload.length > 256 * 1024 || c.category === 'structure-extremes';
    let ex = await lane.exchange(payload, big ? this.o.timeoutMs * 3 : this.o.timeoutMs);
    if (ex.responses.length === 0 && ex.reused && !ex.timedOut && ex.malformed === undefined && c.expect.mayClose !== true) {
      // The keep-alive race: the server may close an idle connection as our request leaves.
      this.staleRetries++;
      if (this.staleRetryCases.length < 10) this.staleRetryCases.push(`${c.category}: ${c.name.slice(0, 80)}`);
      ex = await lane.exchange(renderHttpCase(c, this.o.keys, this.o.port), this.o.timeoutMs);
    }
    const verdict = judgeHttpCase(c, ex, this.postgresWasDown(sentAt));
    // After a refusal the server may close the connection: do not send the next case into it.
    const status = ex.responses[0]?.status ?? 0;
    if (status === 413 || status === 429 || status === 503 || ex.responses.length === 0 || c.expect.mayClose === true) lane.retire();
    const events = c.expect.events ?? [];
    const accepted = verdict.outcome === 'accepted' || verdict.fates.some((f) => f !== 'rejected');
    if (c.auth.mode === 'agent' && accepted) this.ledger.agentsMaybeStored.add(agentFromSeed(c.auth.seed).agentId);
    events.forEach((e, i) => this.ledger.register(caseId, e, verdict.fates[i] ?? 'unknown'));
    return verdict;
  }

  private async runRaw(c: RawCase, caseId: number): Promise<Verdict> {
    const writes = renderRawCase(c, this.o.port);
    const sentAt = performance.now();
    const ex = await rawExchange(this.o.port, writes, { responses: c.responses, timeoutMs: c.timeoutMs, ...(c.pauseMs === undefined ? {} : { pauseMs: c.pauseMs }), ...(c.halfClose === undefined ? {} : { halfClose: c.halfClose }) });
    const problems: string[] = [];
    if (ex.malformed !== undefined) problems.push(`response is not HTTP: ${ex.malformed}`);
    const statuses: string[] = [];
    for (const r of ex.responses) {
      statuses.push(String(r.status));
      if (r.status >= 500 && r.status !== 503) problems.push(`${r.status}: a 5xx other than 503`);
      if (r.status === 503) judge503(this.postgresWasDown(sentAt), problems, 'raw');
      // A 200 answers the GET /healthz that some cases pipeline after their POST (seen when the
      // POST was refused at once, 429 under load, so that the GET was read in turn). Other
      // responses written by the receiver carry the §6 shape; uWS's own (if any) are recorded as they are.
      if (r.status === 200) {
        if (r.body.toString('utf8') !== '{"status":"ok"}') problems.push(`200 that is not the /healthz answer: ${JSON.stringify(r.body.subarray(0, 200).toString('utf8'))}`);
      } else if (/^application\/json/i.test(r.headers.find(([n]) => n === 'content-type')?.[1] ?? '')) checkShape(r, problems);
    }
    this.registerRawRows(c, caseId);
    const what = describeRaw(ex);
    const name = c.name;
    const m = this.rawBehaviour.get(name) ?? new Map<string, number>();
    this.rawBehaviour.set(name, m);
    bump(m, what);
    return { outcome: what, problems, fates: [] };
  }

  private postgresWasDown(sentAt: number): boolean {
    return this.o.postgresDownDuring?.(sentAt, performance.now()) ?? false;
  }

  /** Signed parts of raw cases carry valid events: each may or may not be stored, whatever the framing did. */
  private registerRawRows(c: RawCase, caseId: number): void {
    for (const write of c.writes) {
      for (const part of write) {
        if (!('signed' in part)) continue;
        this.ledger.agentsMaybeStored.add(agentFromSeed(part.signed.seed).agentId);
        for (const row of part.signed.rows ?? []) this.ledger.register(caseId, { verdict: 'either', codes: [], id: null, row, mutation: 'raw' }, 'unknown');
      }
    }
  }
}

function describeRaw(ex: ExchangeResult): string {
  const parts: string[] = [];
  if (ex.responses.length > 0) parts.push(ex.responses.map((r) => String(r.status)).join('+'));
  else parts.push('no response');
  if (ex.timedOut) parts.push('(still open at the timeout)');
  else if (ex.closed) parts.push('then closed');
  if (ex.error !== undefined) parts.push(`[${ex.error.replace(/\s+/g, ' ').slice(0, 40)}]`);
  return parts.join(' ');
}
