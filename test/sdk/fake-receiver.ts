import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Unpackr } from 'msgpackr';
import { base58Decode } from '../../src/protocol/index.js';

/**
 * Just enough of a receiver to test the SDK against while the real one is being built:
 * verifies §3 signatures with node:crypto, decodes JSON / MessagePack / gzip, and answers
 * what each test scripts (202, 429 + Retry-After, 413, 400, 503, a dropped connection, or
 * no answer at all).
 */

export interface ReceivedRequest {
  readonly index: number;
  readonly receivedAt: number;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  /** The body exactly as transmitted. */
  readonly raw: Buffer;
  /** After gzip decoding. */
  readonly decoded: Buffer;
  readonly events: Record<string, unknown>[];
  /** null for requests without agent headers (/v1/ingest). */
  readonly signatureValid: boolean | null;
  readonly timestamp: string | null;
  readonly signature: Buffer | null;
  readonly agentPublicKey: Uint8Array | null;
}

export type Reply =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>>; readonly delayMs?: number }
  | 'destroy'
  | 'hang';

export type Script = (req: ReceivedRequest) => Reply;

export interface FakeReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  script: Script;
  /** All events received, in order, across requests. */
  events(): Record<string, unknown>[];
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const accept: Script = (req) => ({ status: 202, body: { accepted: req.events.length, rejected: [] } });

export function errorReply(status: number, code: string, headers?: Record<string, string>): Reply {
  return { status, body: { error: { code, message: code } }, ...(headers === undefined ? {} : { headers }) };
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const unpackr = new Unpackr({ int64AsType: 'bigint', useRecords: false, mapsAsObjects: true });

export function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export async function startFakeReceiver(script: Script = accept): Promise<FakeReceiver> {
  const requests: ReceivedRequest[] = [];
  const hanging: ServerResponse[] = [];
  let waiters: (() => void)[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const received = parse(requests.length, req, raw);
      requests.push(received);
      const reply = receiver.script(received);
      for (const w of waiters) w();
      waiters = [];
      if (reply === 'destroy') {
        req.socket.destroy();
        return;
      }
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      if (reply.delayMs === undefined) send();
      else setTimeout(send, reply.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const receiver: FakeReceiver = {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    events: () => requests.flatMap((r) => r.events),
    async waitForRequests(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} requests, got ${requests.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

function parse(index: number, req: IncomingMessage, raw: Buffer): ReceivedRequest {
  const header = (name: string): string | null => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : null;
  };
  const decoded = header('content-encoding') === 'gzip' ? gunzipSync(raw) : raw;
  const type = header('content-type') ?? '';
  let events: Record<string, unknown>[];
  if (type.startsWith('application/cloudevents-batch+msgpack')) events = unpackr.unpack(decoded) as Record<string, unknown>[];
  else if (type.startsWith('application/cloudevents-batch+json')) events = JSON.parse(decoded.toString('utf8')) as Record<string, unknown>[];
  else throw new Error(`unexpected content-type ${type}`);

  const agent = header('x-machpay-agent');
  const timestamp = header('x-machpay-timestamp');
  const sigText = header('x-machpay-signature');
  let signatureValid: boolean | null = null;
  let signature: Buffer | null = null;
  let agentPublicKey: Uint8Array | null = null;
  if (agent !== null || timestamp !== null || sigText !== null) {
    agentPublicKey = agent === null ? null : base58Decode(agent, 32);
    signature = sigText === null ? null : Buffer.from(sigText, 'base64');
    const path = (req.url ?? '').split('?')[0] ?? '';
    signatureValid =
      agentPublicKey !== null &&
      signature !== null &&
      signature.length === 64 &&
      timestamp !== null &&
      verify(null, Buffer.concat([Buffer.from(`machpay-v1\n${timestamp}\n${path}\n`, 'ascii'), raw]), publicKeyObject(agentPublicKey), signature);
  }
  return {
    index,
    receivedAt: Date.now(),
    path: req.url ?? '',
    headers: req.headers,
    raw,
    decoded,
    events,
    signatureValid,
    timestamp,
    signature,
    agentPublicKey,
  };
}
