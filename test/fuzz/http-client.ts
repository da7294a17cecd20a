/**
 * A minimal HTTP/1.1 client over node:net. The fuzzer needs what fetch hides: exact bytes
 * on the wire (duplicate headers, lying Content-Length, raw header bytes), and exact
 * knowledge of what came back (a response, or a connection closed without one, or bytes
 * that are not HTTP). Keep-alive lanes carry the bulk of the cases; raw exchanges open a
 * socket of their own.
 */
import { connect, type Socket } from 'node:net';

export interface ParsedResponse {
  status: number;
  reason: string;
  /** Lower-case names, in order. */
  headers: [string, string][];
  body: Buffer;
}

export interface ExchangeResult {
  responses: ParsedResponse[];
  /** The server closed (or reset) the connection. */
  closed: boolean;
  timedOut: boolean;
  /** Bytes that do not parse as an HTTP response. */
  malformed?: string;
  /** A socket error (ECONNRESET, EPIPE…). */
  error?: string;
  /** Bytes after the responses we waited for (unsolicited). */
  extraBytes: number;
  /** The request went over a connection that had served requests before. */
  reused: boolean;
}

export function header(r: ParsedResponse, name: string): string | undefined {
  return r.headers.find(([n]) => n === name)?.[1];
}

type Parse = { response: ParsedResponse; used: number } | { need: true } | { malformed: string };

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;
const MAX_HEAD = 64 * 1024;

/** One response from the start of `buf`; `eof`: no more bytes will come (a body without length ends here). */
export function parseResponse(buf: Buffer, eof: boolean): Parse {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (buf.length > MAX_HEAD) return { malformed: 'response head over 64 KiB' };
    if (eof && buf.length > 0) return { malformed: `truncated response head: ${JSON.stringify(buf.subarray(0, 200).toString('latin1'))}` };
    return { need: true };
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = STATUS_LINE.exec(lines[0] ?? '');
  if (m === null) return { malformed: `bad status line ${JSON.stringify((lines[0] ?? '').slice(0, 200))}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { malformed: `bad header line ${JSON.stringify(line.slice(0, 200))}` };
    headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  const status = Number(m[1]);
  const base = { status, reason: m[2] ?? '', headers };
  let at = headEnd + 4;
  const te = headers.find(([n]) => n === 'transfer-encoding')?.[1];
  const cls = headers.filter(([n]) => n === 'content-length').map(([, v]) => v);
  if (te !== undefined && /chunked/i.test(te)) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return eof ? { malformed: 'truncated chunked body' } : { need: true };
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size) || size < 0) return { malformed: 'bad chunk size' };
      at = lineEnd + 2;
      if (size === 0) {
        const end = buf.indexOf('\r\n', at);
        if (end < 0) return eof ? { malformed: 'truncated chunked trailer' } : { need: true };
        return { response: { ...base, body: Buffer.concat(parts) }, used: end + 2 };
      }
      if (buf.length < at + size + 2) return eof ? { malformed: 'truncated chunk' } : { need: true };
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  if (cls.length > 0) {
    if (new Set(cls).size > 1 || !/^\d+$/.test(cls[0] as string)) return { malformed: `bad content-length ${JSON.stringify(cls)}` };
    const n = Number(cls[0]);
    if (buf.length < at + n) return eof ? { malformed: `body shorter than content-length ${n}` } : { need: true };
    return { response: { ...base, body: Buffer.from(buf.subarray(at, at + n)) }, used: at + n };
  }
  // 1xx, 204 and 304 have no body; anything else without a length runs to the close.
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return { response: { ...base, body: Buffer.alloc(0) }, used: at };
  if (!eof) return { need: true };
  return { response: { ...base, body: Buffer.from(buf.subarray(at)) }, used: buf.length };
}

interface Pending {
  wanted: number;
  result: ExchangeResult;
  resolve: (r: ExchangeResult) => void;
  timer: NodeJS.Timeout;
}

/** One connection that is reused for request after request, one at a time. */
export class Lane {
  private socket: Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private lastUsed = 0;
  private served = 0;
  /** Bytes that arrived while no request was outstanding. */
  unsolicited = 0;

  constructor(
    private readonly port: number,
    private readonly host = '127.0.0.1',
  ) {}

  /**
   * Sends `payload` and waits for one response (a 100 Continue is skipped). The connection
   * is replaced when the server closed it, or when it has been idle long enough that the
   * server's keep-alive timeout could close it under our request.
   */
  exchange(payload: Uint8Array, timeoutMs: number, halfClose = false): Promise<ExchangeResult> {
    if (this.socket !== null && Date.now() - this.lastUsed > 3000) this.drop();
    const reused = this.socket !== null && this.served > 0;
    const socket = this.socket ?? this.open();
    this.buffer = Buffer.alloc(0);
    return new Promise((resolve) => {
      const result: ExchangeResult = { responses: [], closed: false, timedOut: false, extraBytes: 0, reused };
      const timer = setTimeout(() => {
        result.timedOut = true;
        this.finish();
        this.drop();
      }, timeoutMs);
      this.pending = { wanted: 1, result, resolve, timer };
      socket.write(payload, (err) => {
        if (err !== undefined && err !== null && this.pending?.result === result) result.error ??= err.message;
      });
      if (halfClose) socket.end();
    });
  }

  close(): void {
    this.drop();
  }

  /** Forget the connection: the next request opens a new one (after answers the server may close). */
  retire(): void {
    this.drop();
  }

  private open(): Socket {
    const socket = connect({ port: this.port, host: this.host, noDelay: true });
    this.socket = socket;
    this.served = 0;
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      if (this.pending === null) {
        this.unsolicited += chunk.length;
        return;
      }
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.consume(false);
    });
    const gone = (err?: Error): void => {
      if (this.socket !== socket) return;
      socket.destroy();
      if (this.pending !== null) {
        if (err !== undefined) this.pending.result.error ??= err.message;
        this.consume(true);
        if (this.pending !== null) {
          this.pending.result.closed = true;
          this.finish();
        }
      }
      this.socket = null;
    };
    socket.on('error', (err) => gone(err));
    socket.on('end', () => gone());
    socket.on('close', () => gone());
    return socket;
  }

  private consume(eof: boolean): void {
    const p = this.pending;
    if (p === null) return;
    while (p.result.responses.length < p.wanted) {
      const parsed = parseResponse(this.buffer, eof);
      if ('need' in parsed) return;
      if ('malformed' in parsed) {
        p.result.malformed = parsed.malformed;
        this.finish();
        this.drop();
        return;
      }
      this.buffer = this.buffer.subarray(parsed.used);
      if (parsed.response.status >= 100 && parsed.response.status < 200) continue;
      p.result.responses.push(parsed.response);
    }
    p.result.extraBytes = this.buffer.length;
    const closeAfter = header(p.result.responses[p.result.responses.length - 1] as ParsedResponse, 'connection')?.toLowerCase() === 'close';
    this.finish();
    this.served++;
    if (closeAfter || p.result.extraBytes > 0) this.drop();
  }

  private finish(): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    clearTimeout(p.timer);
    this.lastUsed = Date.now();
    p.resolve(p.result);
  }

  private drop(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }
}

export interface RawExchangeOptions {
  /** Pause between writes. */
  pauseMs?: number;
  halfClose?: boolean;
  /** Responses to wait for before returning (fewer if the server closes first). */
  responses: number;
  timeoutMs: number;
}

/** Writes `writes` on a fresh connection and collects what comes back until `responses` are read, the close, or the timeout. */
export function rawExchange(port: number, writes: readonly Uint8Array[], opts: RawExchangeOptions): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const result: ExchangeResult = { responses: [], closed: false, timedOut: false, extraBytes: 0, reused: false };
    let buffer: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      result.extraBytes = buffer.length;
      socket.destroy();
      resolve(result);
    };
    const consume = (eof: boolean): void => {
      while (result.responses.length < opts.responses || (eof && buffer.length > 0)) {
        const parsed = parseResponse(buffer, eof);
        if ('need' in parsed) return;
        if ('malformed' in parsed) {
          result.malformed = parsed.malformed;
          return finish();
        }
        buffer = buffer.subarray(parsed.used);
        if (parsed.response.status < 100 || parsed.response.status >= 200) result.responses.push(parsed.response);
      }
      if (result.responses.length >= opts.responses && opts.responses > 0 && !eof) finish();
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      finish();
    }, opts.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      consume(false);
    });
    socket.on('error', (err) => {
      result.error ??= err.message;
    });
    socket.on('close', () => {
      result.closed = true;
      consume(true);
      finish();
    });
    void (async () => {
      for (let i = 0; i < writes.length && !done; i++) {
        if (i > 0 && (opts.pauseMs ?? 0) > 0) await new Promise((r) => setTimeout(r, opts.pauseMs));
        if (socket.destroyed) return;
        socket.write(writes[i] as Uint8Array, () => undefined);
      }
      if (opts.halfClose === true && !socket.destroyed) socket.end();
    })();
  });
}
