import type pg from 'pg';
import { ThrottledLog, type Logger } from '../logger.js';
import type { EventIdCodec } from './event-ids.js';
import { startOf, type LogPosition } from './log-position.js';
import { readHorizon, readLive, readOpeningSnapshot, readRange, releaseLiveReader, summarizeNewRanges, type LogRow } from './log-reader.js';
import type { RowCapture } from './row-capture.js';
import type { StreamSource } from './stream-sources.js';
import type { Subscriber } from './subscriber.js';
import { rowFilter, Subscriptions } from './subscriptions.js';
import { NotifyListener } from './wake-ups.js';

export interface HubOptions {
  /** Reads run on it; the poller holds one of its connections while anyone subscribes. */
  pool: pg.Pool;
  sources: readonly StreamSource[];
  ids: EventIdCodec;
  log: Logger;
  clock: () => number;
  /** Read the log at least this often while anyone subscribes, whatever the wake-ups say. */
  pollIntervalMs: number;
  heartbeatMs: number;
  /** Transactions per live read: bounds a read's rows after a stall. */
  maxXidsPerRead: number;
  /** Transactions per catch-up read of a resumed stream. */
  catchUpXids: number;
  /** LISTEN for other receivers' commits (false: poll only). */
  listen: boolean;
  /** How long the poller runs on after the last subscriber leaves. */
  lingerMs: number;
  /** How often the log's new BRIN ranges are summarised while anyone subscribes. */
  summarizeIntervalMs: number;
  /** The per-subscriber queue bound (for the buffer-pressure figure). */
  maxQueuedBytes: number;
  /** Switched on before the first subscriber is admitted: rows are only in the log while it is on. */
  capture: RowCapture;
}

export interface HubStats {
  subscribers: number;
  /** Events written to subscribers (one per subscriber). */
  delivered: number;
  resets: number;
  /** Reads of the log since start. */
  reads: number;
  /** Where the next live read starts (null: not running). */
  next: string | null;
  /** Frames waiting in subscribers' queues for their sockets, summed (bytes). */
  queuedBytes: number;
  /** The largest of those queues, as a share of the per-subscriber bound (0–1). */
  fullestQueue: number;
  /** The horizon's age: how far the log's readable end trails the newest transaction (transaction ids). */
  lagXids: number;
  /** Milliseconds since the last live read ended (0 while not running). */
  sinceLastReadMs: number;
}

/**
 * The stream's one reader of the log per receiver, running only while someone subscribes.
 *
 * Each read takes the rows of transactions between the last horizon and the snapshot's xmin
 * (every one of them has ended), in log order, and hands each row's event to the subscribers
 * of its agent and of its agent's tenant: one read and one serialised frame per event,
 * whatever the number of subscribers. Wake-ups come from this receiver's commits, from
 * other receivers' NOTIFYs, and from a poll interval that covers a lost one.
 */
export class StreamHub {
  private readonly subs = new Subscriptions();
  /** Subscribers waiting for the live read in progress to end before they are registered. */
  private joins: (() => void)[] = [];
  private next: bigint | null = null;
  private starting: Promise<void> | null = null;
  private client: pg.PoolClient | null = null;
  private reading = false;
  private again = false;
  private poll: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private linger: NodeJS.Timeout | null = null;
  private summarize: NodeJS.Timeout | null = null;
  private summarizing = false;
  private readonly listener: NotifyListener | null;
  private readonly failures: ThrottledLog;
  private closed = false;
  private stats = { delivered: 0, resets: 0, reads: 0 };
  /** The capture period this stream runs in: event ids below it cannot be resumed from. */
  private captureSince: bigint | null = null;
  private lastReadAt = 0;
  private lastHorizonGap = 0;

  constructor(private readonly o: HubOptions) {
    this.failures = new ThrottledLog(o.log, 10_000);
    this.listener = o.listen ? new NotifyListener(o.pool.options, () => this.wake(), o.log) : null;
  }

  /**
   * Adds a subscriber that has sent its head. `resumeAfter`: the position of the client's last
   * event id (null: from now on). What it missed is read from the database while its live
   * events wait, then the live events follow; its cursor drops whatever both delivered.
   */
  async add(sub: Subscriber, resumeAfter: LogPosition | null): Promise<void> {
    if (this.closed) return sub.end();
    await this.ensureRunning();
    // A stream without an id starts at the database's horizon now, not at where this
    // receiver's reader happens to be: rows committed before the request are not "new".
    const now = resumeAfter === null ? await readOpeningSnapshot(this.o.pool) : null;
    if (sub.closed || this.next === null) return;
    if (resumeAfter !== null && this.captureSince !== null && resumeAfter.xid < this.captureSince) {
      // Rows were not captured between that id's period and this one: it cannot be resumed.
      sub.openingReset = 'event_id_too_old';
      return this.add(sub, null);
    }
    const upTo = await this.registerBetweenReads(sub, (upTo) => {
      if (now !== null) {
        sub.cursor = startOf(now.xmin > upTo ? now.xmin : upTo);
        sub.skipCommittedBefore(now);
      } else if (resumeAfter !== null) {
        sub.cursor = resumeAfter;
        if (resumeAfter.xid < upTo) sub.hold();
      }
    });
    if (upTo === null) return sub.end();
    if (resumeAfter === null || now !== null || resumeAfter.xid >= upTo) return;
    const filter = rowFilter(sub);
    let from = resumeAfter;
    while (from.xid < upTo && !sub.closed) {
      const end = from.xid + BigInt(this.o.catchUpXids) < upTo ? from.xid + BigInt(this.o.catchUpXids) : upTo;
      const client = await this.o.pool.connect();
      let rows: LogRow[];
      try {
        rows = await readRange(client, this.o.sources, from, end, filter);
      } finally {
        client.release();
      }
      const now = this.o.clock();
      sub.corked(() => {
        for (const r of rows) sub.sendAt(r.position, this.frame(r, now));
      });
      this.stats.delivered += rows.length;
      from = startOf(end);
      await sub.whenDrained();
    }
    sub.release();
  }

  /**
   * Registers a subscriber while no live read runs, and sets it up (`setUp`, with where the
   * live reads start for it) before any read can reach it; resolves to that place, or null
   * when the stream stopped first. A live read returns only the rows of the agents and tenants
   * subscribed when it began, so one added during a read would miss that read's rows of its
   * topic. Every live read from the place on reaches this subscriber; everything before it
   * comes from its catch-up.
   */
  private registerBetweenReads(sub: Subscriber, setUp: (upTo: bigint) => void): Promise<bigint | null> {
    return new Promise((resolve) => {
      const join = (): void => {
        const upTo = this.next;
        if (upTo === null || sub.closed) return resolve(null);
        this.subs.add(sub);
        sub.onClose = () => this.unregister(sub);
        // The head goes out once the subscriber is registered: an event committed after the
        // client saw the stream open is never missed.
        sub.open();
        setUp(upTo);
        resolve(upTo);
      };
      if (this.reading) this.joins.push(join);
      else join();
    });
  }

  /** Registers the subscribers that waited for the read that just ended, before the next begins. */
  private runJoins(): void {
    const joins = this.joins;
    this.joins = [];
    for (const join of joins) join();
  }

  /** Asks for a read now (commits here, NOTIFYs from elsewhere). Cheap when nobody subscribes. */
  wake(): void {
    if (this.next === null || this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.readOnce()
      .then((more) => {
        this.reading = false;
        this.runJoins();
        if (more || this.again) {
          this.again = false;
          this.wake();
        }
      })
      .catch((err: unknown) => {
        this.reading = false;
        this.runJoins();
        this.failures.warn({ err: (err as Error).message }, 'stream log read failed; retrying at the next poll');
        this.client?.release(true);
        this.client = null;
      });
  }

  snapshot(): HubStats {
    let queuedBytes = 0;
    let fullest = 0;
    for (const s of this.subs.all) {
      queuedBytes += s.queued;
      if (s.queued > fullest) fullest = s.queued;
    }
    return {
      subscribers: this.subs.all.size,
      ...this.stats,
      next: this.next?.toString() ?? null,
      queuedBytes,
      fullestQueue: fullest / this.o.maxQueuedBytes,
      lagXids: this.next === null ? 0 : this.lastHorizonGap,
      sinceLastReadMs: this.next === null ? 0 : Math.max(0, this.o.clock() - this.lastReadAt),
    };
  }

  /** The capture period the stream reads in, or null when it does not run. */
  runningSince(): bigint | null {
    return this.next === null ? null : this.captureSince;
  }

  /**
   * Capture was switched off and on again under this stream (another receiver decided nobody
   * listened, after this one lost the database for a while): its subscribers may have missed
   * rows, so each gets a `reset`, and the stream starts over with the next subscriber.
   */
  endPeriod(): void {
    for (const s of [...this.subs.all]) s.reset('stream_restarted');
    void this.stop();
  }

  /** Ends every stream (clients reconnect, to this receiver or another, with their last id) and stops. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subs.all]) s.end();
    await this.stop();
  }

  private async ensureRunning(): Promise<void> {
    if (this.linger !== null) {
      clearTimeout(this.linger);
      this.linger = null;
    }
    if (this.next !== null) return;
    this.starting ??= (async () => {
      try {
        // Before the horizon is taken: from here on, every commit's rows are in the log.
        this.captureSince = await this.o.capture.ensureOn();
        const horizon = await readHorizon(this.o.pool);
        this.next = horizon;
        this.poll = setInterval(() => this.wake(), this.o.pollIntervalMs);
        this.heartbeat = setInterval(() => {
          for (const s of this.subs.all) s.ping();
        }, this.o.heartbeatMs);
        this.summarize = setInterval(() => this.summarizeRanges(), this.o.summarizeIntervalMs);
        this.summarizeRanges();
        this.listener?.start();
      } finally {
        this.starting = null;
      }
    })();
    await this.starting;
  }

  private async stop(): Promise<void> {
    if (this.poll !== null) clearInterval(this.poll);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.linger !== null) clearTimeout(this.linger);
    if (this.summarize !== null) clearInterval(this.summarize);
    this.poll = this.heartbeat = this.linger = this.summarize = null;
    this.next = null;
    await this.listener?.stop();
    // A read in flight keeps its connection until it ends; it sees `next` null and releases.
    if (!this.reading) await this.releaseClient();
  }

  /** Gives the live reads' connection back to the pool, without their prepared statements. */
  private async releaseClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null) await releaseLiveReader(client);
  }

  private summarizeRanges(): void {
    if (this.summarizing) return;
    this.summarizing = true;
    this.o.pool
      .connect()
      .then(async (client) => {
        try {
          await summarizeNewRanges(client);
          client.release();
        } catch (err) {
          client.release();
          throw err;
        }
      })
      .catch((err: unknown) => this.failures.warn({ err: (err as Error).message }, 'stream index summarisation failed; reads scan more meanwhile'))
      .finally(() => (this.summarizing = false));
  }

  /** One live read and its fan-out; true when the read was capped and more is ready. */
  private async readOnce(): Promise<boolean> {
    this.client ??= await this.o.pool.connect();
    const from = this.next;
    if (from === null) return false;
    const read = await readLive(this.client, this.o.sources, from, this.o.maxXidsPerRead, this.subs.wanted());
    this.stats.reads++;
    this.lastReadAt = this.o.clock();
    this.lastHorizonGap = read.newest > read.horizon ? Number(read.newest - read.horizon) : 0;
    if (this.next !== from) {
      // Stopped (or restarted) while reading: these rows belong to nobody now.
      if (this.next === null) await this.releaseClient();
      return false;
    }
    this.fanOut(read.rows);
    this.next = read.next;
    return read.next < read.horizon;
  }

  private fanOut(rows: LogRow[]): void {
    if (rows.length === 0) return;
    const now = this.o.clock();
    const out = new Map<Subscriber, { position: LogPosition; frame: Buffer }[]>();
    for (const r of rows) {
      let frame: Buffer | null = null;
      const add = (s: Subscriber): void => {
        frame ??= this.frame(r, now);
        let list = out.get(s);
        if (list === undefined) out.set(s, (list = []));
        list.push({ position: r.position, frame });
      };
      this.subs.eachFor(r, add);
    }
    for (const [s, list] of out) {
      if (s.closed) continue;
      s.deliverAll(list);
      this.stats.delivered += list.length;
    }
  }

  private frame(r: LogRow, now: number): Buffer {
    return Buffer.from(`id: ${this.o.ids.encode(r.position, now)}\nevent: ${r.source.event}\ndata: ${r.data}\n\n`);
  }

  private unregister(sub: Subscriber): void {
    if (!this.subs.remove(sub)) return;
    if (sub.wasReset) this.stats.resets++;
    if (this.subs.all.size === 0 && !this.closed && this.linger === null) {
      this.linger = setTimeout(() => {
        this.linger = null;
        if (this.subs.all.size === 0) void this.stop();
      }, this.o.lingerMs);
      this.linger.unref();
    }
  }
}
