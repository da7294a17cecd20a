/**
 * Shared by the rollup tests: the exact percentile the histograms are compared with, group
 * builders, a silent logger, a migrated pool, a reconciliation poll, and a TCP proxy that can
 * take ClickHouse "down" and "up".
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { expect } from 'vitest';
import { migrate } from '../../src/database/index.js';
import { tailLines } from '../helpers/log-tail.js';
import type { Logger } from '../../src/logger.js';
import { precisionBound, type RollupGroup } from '../../src/rollups/index.js';

export const silentLogger = (): Logger => pino({ level: 'silent' });

/**
 * Nearest-rank percentile (the ⌈p·N⌉-th smallest value), what HDR and PostgreSQL's
 * percentile_disc compute. The ulp guard mirrors HDR's: 0.99 × 100 must give rank 99, not 100.
 */
export function exactPercentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const fp = (p / 100) * sorted.length;
  const rank = Math.max(1, Math.ceil(fp - Math.abs(fp) * Number.EPSILON));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** True when `reported` is what an HDR histogram may say for `exact`: not below, and above by at most one bucket. */
export function withinPrecision(reported: number, exact: number): boolean {
  return reported >= exact && reported - exact <= precisionBound(exact);
}

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/** A group of one agent's rows in one minute, with counts that add up. */
export function agentGroup(entity: string, vendorId: string, minute: number, latencies: number[], opts: { failures?: number; spend?: bigint } = {}): RollupGroup {
  const failures = opts.failures ?? 0;
  return {
    kind: 'agent',
    minute,
    entity,
    vendorId,
    tenantId: '',
    requests: latencies.length,
    successes: latencies.length - failures,
    failures,
    spendAtomic: opts.spend ?? BigInt(latencies.length) * 1000n,
    latencies,
  };
}

export function gatewayGroup(tenantId: string, entity: string, vendorId: string, minute: number, latencies: number[], failures = 0): RollupGroup {
  return { ...agentGroup(entity, vendorId, minute, latencies, { failures }), kind: 'gateway', tenantId };
}

/** Deterministic pseudo-random latencies with a long tail (a few past 2048 ms, where buckets widen). */
export function latencySample(n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const u = x / 2 ** 32;
    out.push(Math.floor(Math.exp(u * 9.5)));
  }
  return out;
}

/** The current UTC minute, minus `back` minutes. */
export function minuteAgo(back: number): number {
  return Math.floor(Date.now() / MINUTE) * MINUTE - back * MINUTE;
}

/**
 * A TCP proxy in front of a server. down() closes the listener and every connection, so
 * clients see ECONNREFUSED; up() listens on the same port again.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.port, host: '127.0.0.1' }, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    this.port = address.port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A pool on `url` whose database has the receiver's schema. */
export async function migratedPool(url: string, max: number): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max });
  // Dropping a test database terminates connections still closing; that is no failure.
  pool.on('error', () => undefined);
  const client = await pool.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  return pool;
}

/**
 * Polls `reconcile` (null when every figure matches, else what differs) until it reports no
 * difference or `timeoutMs` passes; a throw (e.g. rollup_minute not created yet, ClickHouse
 * still starting) is not a failure until the deadline. Fails with the last difference and
 * the receiver's stderr.
 */
export async function expectReconciled(reconcile: () => Promise<string | null>, receiverStderr: () => string, timeoutMs: number): Promise<void> {
  let last: string | null = 'not checked';
  const ok = await eventually(
    async () => {
      try {
        last = await reconcile();
      } catch (err) {
        last = (err as Error).message;
      }
      return last === null;
    },
    timeoutMs,
    250,
  );
  expect(ok, `${last ?? ''}\n--- receiver stderr ---\n${tailLines(receiverStderr(), 20)}`).toBe(true);
}

/** A CommandComplete message for COMMIT, as PostgreSQL sends it: 'C', length 11, "COMMIT\0". */
const COMMIT_COMPLETE = Buffer.concat([Buffer.from('C'), Buffer.from([0, 0, 0, 11]), Buffer.from('COMMIT\0')]);

/**
 * A PostgreSQL proxy that, when armed, loses the reply to the COMMIT of a COPY transaction:
 * the server has committed, the client only sees its connection drop. That is the ambiguous
 * failure a receiver must not count twice (it spools the batch and replays it later).
 */
export class CommitReplyDropper {
  private server: Server | null = null;
  private armed = 0;
  /** COMMIT replies dropped so far. */
  dropped = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Drops the reply of each of the next `n` COMMITs that end a transaction holding a COPY. */
  arm(n: number): void {
    this.armed += n;
  }

  /** Lets every reply through again. */
  disarm(): void {
    this.armed = 0;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      let copied = false;
      for (const s of [client, upstream]) s.on('error', () => undefined);
      client.on('data', (chunk: Buffer) => {
        if (chunk.includes('COPY ')) copied = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (copied && chunk.includes(COMMIT_COMPLETE)) {
          copied = false;
          if (this.armed > 0) {
            this.armed--;
            this.dropped++;
            client.destroy();
            upstream.destroy();
            return;
          }
        }
        client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1' }, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    this.port = address.port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
