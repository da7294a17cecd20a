import type pg from 'pg';
import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER, type CopyFormat } from '../../codec/index.js';

/** One `COPY … FROM STDIN` of a CopyQuery and the chunks it reads. */
export interface CopyStep {
  /** `COPY … FROM STDIN` without its format option (binary adds it). */
  sql: string;
  chunks: readonly Uint8Array[];
  format: CopyFormat;
}

/** Message type bytes of the frontend's copy messages (protocol v3). */
const COPY_DATA = 0x64;
const COPY_DONE = 0x63;

/** Payloads up to this size are kept for their connection's next query. */
const PAYLOAD_KEEP_MAX_BYTES = 8 * 1024 * 1024;
/** The smallest payload buffer: small batches share one size, and a connection's buffer
 *  is only replaced by a bigger one when a bigger batch comes. */
const PAYLOAD_MIN_BYTES = 1024 * 1024;

/**
 * The buffer each connection's copy messages are assembled in, kept for its next query. A
 * payload is hundreds of KiB to megabytes, and V8 answers a stream of fresh external buffers
 * that large with full mark-compacts of the main heap (under max load, one every few hundred
 * ms; reusing the buffers cut them by about a third). A buffer goes back to its connection
 * only after its query has completed: a failed query's bytes may still be queued on the
 * socket, so that buffer is dropped.
 */
class CopyPayloads {
  private readonly idle = new WeakMap<pg.ClientBase, Buffer>();

  take(client: pg.ClientBase, bytes: number): Buffer {
    const kept = this.idle.get(client);
    this.idle.delete(client);
    return kept !== undefined && kept.length >= bytes ? kept : Buffer.allocUnsafe(Math.max(bytes, PAYLOAD_MIN_BYTES));
  }

  give(client: pg.ClientBase, buf: Buffer): void {
    if (buf.length <= PAYLOAD_KEEP_MAX_BYTES) this.idle.set(client, buf);
  }
}

const payloads = new CopyPayloads();

/**
 * Runs `before`, the COPY steps and `after` as ONE simple query whose copy data follows the
 * query on the wire at once, without waiting for each CopyInResponse: the whole sequence
 * costs one round trip. (A COPY stream that waits for CopyInResponse before sending its rows
 * costs two, and every statement around it one more.)
 *
 * This is safe by PostgreSQL's frontend/backend protocol ("COPY Operations"): the backend
 * runs a simple query's statements in order and reads each COPY's data from the stream as
 * it reaches it; on any error it discards the rest of the query string, answers
 * ErrorResponse then ReadyForQuery, and drops every CopyData and CopyDone that follows
 * until the next query. So a failed statement leaves nothing of the later ones done, and the
 * error reaches the caller as the promise's rejection.
 *
 * `before` and `after` are plain SQL (no parameters), each ending in `;` when not empty.
 */
export function copyQuery(client: pg.ClientBase, steps: readonly CopyStep[], before = '', after = ''): Promise<void> {
  let text = before;
  let bytes = 0;
  for (const step of steps) {
    text += step.format === 'binary' ? `${step.sql} (FORMAT binary);\n` : `${step.sql};\n`;
    bytes += 5 + 5;
    for (const c of step.chunks) bytes += c.byteLength;
    if (step.format === 'binary') bytes += COPY_BINARY_HEADER.byteLength + COPY_BINARY_TRAILER.byteLength;
  }
  text += after;
  const buf = payloads.take(client, bytes);
  let at = 0;
  const put = (c: Uint8Array): void => {
    buf.set(c, at);
    at += c.byteLength;
  };
  for (const step of steps) {
    const start = at;
    buf[at] = COPY_DATA;
    at += 5;
    if (step.format === 'binary') put(COPY_BINARY_HEADER);
    for (const c of step.chunks) put(c);
    if (step.format === 'binary') put(COPY_BINARY_TRAILER);
    buf.writeUInt32BE(at - start - 1, start + 1);
    buf[at] = COPY_DONE;
    buf.writeUInt32BE(4, at + 1);
    at += 5;
  }
  return new Promise((resolve, reject) => {
    void client.query(
      new CopyQuery(text, buf.subarray(0, at), (err) => {
        if (err !== null) return reject(err);
        payloads.give(client, buf);
        resolve();
      }),
    );
  });
}

/** The connection as node-postgres hands it to a submitted query. */
interface Connection {
  query(text: string): void;
  stream: { write(data: Uint8Array): boolean };
}

/**
 * A query object node-postgres runs like its own (`submit` then the `handle…` callbacks, with
 * the connection to itself until ReadyForQuery). It ends once: at the first error, or at
 * ReadyForQuery after every statement succeeded.
 */
class CopyQuery {
  private ended = false;

  constructor(
    private readonly text: string,
    private readonly copyMessages: Buffer,
    private readonly done: (err: Error | null) => void,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text);
    if (this.copyMessages.length > 0) connection.stream.write(this.copyMessages);
  }

  /** node-postgres replaces this with its own when a query timeout is configured. */
  callback(): void {}

  handleError(err: Error): void {
    this.callback();
    this.end(err);
  }

  handleReadyForQuery(): void {
    this.callback();
    this.end(null);
  }

  // The statements' own replies carry nothing the caller needs.
  handleCopyInResponse(): void {}
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private end(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.done(err);
  }
}
