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
/** CopyDone is always the same five bytes. */
const COPY_DONE_MESSAGE = Buffer.from([0x63, 0, 0, 0, 4]);

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
 * Each step is one CopyData message whose body is the step's chunks as they are: the socket
 * is corked while the query, each message's 5-byte header and the chunks are written, so
 * they leave in one writev and no payload is assembled. (A batch is megabytes: a copy of it
 * per transaction, or a buffer of that size kept per connection for the next one, costs the
 * receiver memory and the main thread a memcpy, for bytes the kernel gathers anyway.) The
 * chunks must not change until the promise settles.
 *
 * `before` and `after` are plain SQL (no parameters), each ending in `;` when not empty.
 */
export function copyQuery(client: pg.ClientBase, steps: readonly CopyStep[], before = '', after = ''): Promise<void> {
  let text = before;
  for (const step of steps) text += step.format === 'binary' ? `${step.sql} (FORMAT binary);\n` : `${step.sql};\n`;
  text += after;
  return new Promise((resolve, reject) => {
    void client.query(new CopyQuery(text, steps, (err) => (err === null ? resolve() : reject(err))));
  });
}

/** The 5-byte header of a CopyData message whose body is `step`'s bytes. */
function copyDataHeader(step: CopyStep): Buffer {
  let bytes = 0;
  for (const c of step.chunks) bytes += c.byteLength;
  if (step.format === 'binary') bytes += COPY_BINARY_HEADER.byteLength + COPY_BINARY_TRAILER.byteLength;
  const header = Buffer.allocUnsafe(5);
  header[0] = COPY_DATA;
  header.writeUInt32BE(4 + bytes, 1);
  return header;
}

/** The connection as node-postgres hands it to a submitted query. */
interface Connection {
  query(text: string): void;
  stream: { write(data: Uint8Array): boolean; cork(): void; uncork(): void };
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
    private readonly steps: readonly CopyStep[],
    private readonly done: (err: Error | null) => void,
  ) {}

  submit(connection: Connection): void {
    const out = connection.stream;
    out.cork();
    try {
      connection.query(this.text);
      for (const step of this.steps) {
        out.write(copyDataHeader(step));
        if (step.format === 'binary') out.write(COPY_BINARY_HEADER);
        for (const c of step.chunks) if (c.byteLength > 0) out.write(c);
        if (step.format === 'binary') out.write(COPY_BINARY_TRAILER);
        out.write(COPY_DONE_MESSAGE);
      }
    } finally {
      out.uncork();
    }
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
