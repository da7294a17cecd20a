import type { HttpResponse } from 'uWebSockets.js';
import type { OpeningSnapshot } from './log-reader.js';
import { comparePositions, type LogPosition } from './log-position.js';
import type { Topic } from './topics.js';

/** Who the subscriber reads as: a tenant (key or stream token) or one agent itself. */
export type StreamReader = { kind: 'tenant'; tenantId: string } | { kind: 'agent'; agentId: string };

export interface SubscriberLimits {
  /** Bytes of events held for a subscriber that is not reading; past it, `reset` and close. */
  maxQueuedBytes: number;
}

/** After a `reset`, how long the connection may take to drain before it is cut. */
const CLOSE_GRACE_MS = 2000;

const PING = Buffer.from(': ping\n\n');

/**
 * One open SSE response. Events below its cursor are dropped (a resumed stream's catch-up and
 * the live fan-out can overlap); the cursor moves with every event sent.
 *
 * Backpressure: frames go straight to uWS while the socket keeps up. Once uWS reports
 * backpressure, frames wait in this subscriber's queue and move on in slices as the socket
 * drains (onWritable). The queue is bounded: a subscriber that falls that far behind gets a
 * `reset` and is closed, so a slow reader costs a bounded amount of memory and never waits
 * on, or slows, anything else.
 */
export class Subscriber {
  cursor: LogPosition;
  closed = false;
  /** Closed by a `reset` (too slow), not by the client or a shutdown. */
  wasReset = false;
  /** While a resumed stream catches up from the database, live frames wait here. */
  private held: { position: LogPosition; frame: Buffer }[] | null = null;
  private heldBytes = 0;
  private readonly queue: Buffer[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private blocked = false;
  private drainWaiters: (() => void)[] = [];
  onClose: (() => void) | null = null;
  /** A `reset` is written and the connection is about to be cut. */
  private closing = false;
  /** The response was ended or aborted: uWS has freed it. */
  private gone = false;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: HttpResponse,
    readonly topic: Topic,
    readonly reader: StreamReader,
    start: LogPosition,
    private readonly limits: SubscriberLimits,
  ) {
    this.cursor = start;
    res.onWritable(() => {
      // While closing, the reset frame is queued in uWS; the grace timer ends the connection.
      if (!this.closing) this.flush();
      return true;
    });
  }

  /** Transactions that had committed when the stream opened without an id: not new to it. */
  private opening: OpeningSnapshot | null = null;

  /** Written right after the head: the client's id could not be resumed from. */
  openingReset: string | null = null;

  /** Bytes of frames waiting for the socket. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Sends the response head and a first comment, so the client sees the stream open at once. */
  open(): void {
    if (this.closed) return;
    this.res.cork(() => {
      this.res
        .writeStatus('200 OK')
        .writeHeader('content-type', 'text/event-stream')
        .writeHeader('cache-control', 'no-store')
        .writeHeader('x-accel-buffering', 'no');
      this.res.write(': stream open\n\n');
      if (this.openingReset !== null) this.send(Buffer.from(`event: reset\ndata: ${JSON.stringify({ reason: this.openingReset })}\n\n`));
    });
  }

  skipCommittedBefore(s: OpeningSnapshot): void {
    this.opening = s;
  }

  /** From now on, live frames are held until `release` (a catch-up is about to run). */
  hold(): void {
    this.held = [];
  }

  /** Sends what was held while catching up, except what the catch-up already sent. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    this.heldBytes = 0;
    this.res.cork(() => {
      for (const h of held) this.sendAt(h.position, h.frame);
    });
  }

  /** A live event of this subscriber's topic; call inside `corked`. */
  deliver(position: LogPosition, frame: Buffer): void {
    if (this.closed) return;
    if (this.held !== null) {
      this.held.push({ position, frame });
      this.heldBytes += frame.length;
      if (this.heldBytes > this.limits.maxQueuedBytes) this.reset('subscriber_too_slow');
      return;
    }
    this.sendAt(position, frame);
  }

  /**
   * One live read's events of this subscriber's topic, in log order: those it takes go out in
   * one write (one chunk, one copy into uWS), however many there are.
   */
  deliverAll(events: readonly { position: LogPosition; frame: Buffer }[]): void {
    if (this.closed) return;
    if (this.held !== null) {
      for (const e of events) this.deliver(e.position, e.frame);
      return;
    }
    const taken: Buffer[] = [];
    for (const e of events) if (this.take(e.position)) taken.push(e.frame);
    if (taken.length > 0) this.res.cork(() => this.send(taken.length === 1 ? (taken[0] as Buffer) : Buffer.concat(taken)));
  }

  /** An event the catch-up read; call inside `corked`. */
  sendAt(position: LogPosition, frame: Buffer): void {
    if (this.take(position)) this.send(frame);
  }

  /** Whether an event at `position` is new to this subscriber; moves the cursor past it if so. */
  private take(position: LogPosition): boolean {
    if (this.closed || comparePositions(position, this.cursor) <= 0) return false;
    const o = this.opening;
    if (o !== null) {
      if (position.xid >= o.xmax) this.opening = null;
      else if (!o.running.has(position.xid)) return false;
    }
    this.cursor = position;
    return true;
  }

  /** Runs `writes` corked: one syscall for many frames. */
  corked(writes: () => void): void {
    if (!this.closed && !this.gone) this.res.cork(writes);
  }

  ping(): void {
    if (this.closed || this.blocked || this.gone) return;
    this.res.cork(() => this.send(PING));
  }

  /** Resolves once the queue is at most half full (or the subscriber is gone): for catch-up reads. */
  whenDrained(): Promise<void> {
    if (this.closed || this.queuedBytes <= this.limits.maxQueuedBytes / 2) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** `reset` (docs/read-api.md §4), then the stream ends. */
  reset(reason: string): void {
    if (this.closed) return;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    const frame = Buffer.from(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.wasReset = true;
    this.closing = true;
    let sent = false;
    this.res.cork(() => (sent = this.res.write(frame)));
    this.markClosed();
    if (sent) return this.finish();
    // Ending the response would wait for the buffered bytes to drain, which a client that
    // reads nothing never does: the connection is cut after a grace period instead.
    this.graceTimer = setTimeout(() => {
      if (this.gone) return;
      this.gone = true;
      this.res.close();
    }, CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  /** Ends the stream cleanly (shutdown): the client reconnects with its last id. */
  end(): void {
    if (this.closed) return;
    this.markClosed();
    this.finish();
  }

  /** The client went away (uWS onAborted): the response must not be touched again. */
  aborted(): void {
    this.gone = true;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.markClosed();
  }

  /** Ends the response (the terminating chunk). Not end(…, closeConnection): once a chunked
   *  body has started, uWS would write its `Connection: close` header into the body. */
  private finish(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.res.cork(() => this.res.end());
  }

  private send(frame: Buffer): void {
    if (this.blocked) {
      this.queue.push(frame);
      this.queuedBytes += frame.length;
      if (this.queuedBytes > this.limits.maxQueuedBytes) this.reset('subscriber_too_slow');
      return;
    }
    if (!this.res.write(frame)) this.blocked = true;
  }

  private flush(): void {
    if (this.closed) return;
    this.blocked = false;
    // Frames move on until uWS reports backpressure again, so uWS's own buffer holds at most
    // about one frame more than the socket took; the rest stays counted in this queue.
    this.res.cork(() => {
      while (this.queueHead < this.queue.length) {
        const frame = this.queue[this.queueHead++] as Buffer;
        this.queuedBytes -= frame.length;
        if (!this.res.write(frame)) {
          this.blocked = true;
          break;
        }
      }
    });
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.queuedBytes <= this.limits.maxQueuedBytes / 2) this.wakeDrainWaiters();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = null;
    this.wakeDrainWaiters();
    this.onClose?.();
  }

  private wakeDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}
