/**
 * Requests that are hostile at the HTTP layer, sent over a bare socket: oversized and
 * repeated headers, conflicting or lying Content-Length, chunked bodies, bodies shorter or
 * longer than announced, pipelining, slow partial headers, and request lines that are not
 * HTTP. §6 is about well-formed requests; for these the rule is that the process stays up
 * and keeps serving, and that whatever response is given is well-formed.
 */
import { buildValidEvent } from './event-model.js';
import { CONTENT_TYPES, b64 } from './events-case.js';
import type { RawCase, RawPart } from './fuzz-case.js';
import { writeJson } from './json-writer.js';
import type { Prng } from './prng.js';
import { pickSender, type RunEnv } from './run-env.js';

const enc = new TextEncoder();
const bytes = (s: string | Uint8Array): RawPart => ({ bytes: b64(typeof s === 'string' ? enc.encode(s) : s) });

function signedPart(rng: Prng, env: RunEnv, caseIndex: number, k: number, extra: { extraHeaders?: [string, string][]; contentLength?: string } = {}): { part: RawPart; body: Uint8Array } {
  const { ident, seed } = pickSender(rng, env, 'agent', caseIndex);
  const ve = buildValidEvent('interaction', ident, k);
  const body = writeJson([ve.event]);
  return { part: { signed: { seed, body: b64(body), contentType: CONTENT_TYPES['json-batch'], rows: [ve.row], ...extra } }, body };
}

function raw(name: string, writes: RawPart[][], responses: number, opts: Partial<Pick<RawCase, 'pauseMs' | 'halfClose' | 'timeoutMs'>> = {}): RawCase {
  return { kind: 'raw', category: 'raw-http', name, writes, responses, timeoutMs: opts.timeoutMs ?? 5000, ...opts };
}

const HEAD = 'POST /v1/agent HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/cloudevents-batch+json\r\n';

export function rawHttpCase(rng: Prng, env: RunEnv, caseIndex: number): RawCase {
  const makers: [number, () => RawCase][] = [
    [
      3,
      () => {
        const size = rng.pick([4 * 1024, 8 * 1024, 16 * 1024, 64 * 1024, 256 * 1024]);
        const { part } = signedPart(rng, env, caseIndex, 0, { extraHeaders: [['x-pad', 'a'.repeat(size)]] });
        return raw(`header of ${size / 1024} KiB`, [[part]], 1);
      },
    ],
    [
      3,
      () => {
        const count = rng.pick([100, 1000, 5000]);
        const { part } = signedPart(rng, env, caseIndex, 0, { extraHeaders: Array.from({ length: count }, (_, i) => ['x-rep', String(i)] as [string, string]) });
        return raw(`${count} repeated x-rep headers`, [[part]], 1);
      },
    ],
    [
      3,
      () => {
        const { body } = signedPart(rng, env, caseIndex, 0);
        const n = body.length;
        const [label, variant] = rng.pick([
          ['twice, equal', `${n}\r\ncontent-length: ${n}`],
          ['twice, second one more', `${n}\r\ncontent-length: ${n + 1}`],
          ['twice, second one less', `${n}\r\ncontent-length: ${n - 1}`],
          ['"n, n"', `${n}, ${n}`],
          ['"+n"', `+${n}`],
          ['" n " (spaces)', ` ${n} `],
          ['hex', `0x${n.toString(16)}`],
          ['-1', '-1'],
          ['20 digits', '99999999999999999999'],
          ['"n.0"', `${n}.0`],
          ['empty', ''],
          ['leading zeros', `000${n}`],
        ] as const);
        const { part } = signedPart(rng, env, caseIndex, 0, { contentLength: variant });
        return raw(`Content-Length ${label}`, [[part]], 1);
      },
    ],
    [
      3,
      () => {
        const body = writeJson([]);
        const chunked = `${body.length.toString(16)}\r\n${Buffer.from(body).toString('latin1')}\r\n0\r\n\r\n`;
        const withCl = rng.chance(0.5);
        return raw(`Transfer-Encoding: chunked${withCl ? ' and Content-Length' : ''}`, [[bytes(`${HEAD}transfer-encoding: chunked\r\n${withCl ? 'content-length: 2\r\n' : ''}\r\n${chunked}`)]], 1);
      },
    ],
    [
      3,
      () => {
        const missing = rng.range(1, 200);
        return raw('body shorter than Content-Length, then FIN', [[bytes(`${HEAD}content-length: ${100 + missing}\r\n\r\n${'x'.repeat(100)}`)]], 1, { halfClose: true });
      },
    ],
    [
      2,
      () => raw('body shorter than Content-Length, connection left open', [[bytes(`${HEAD}content-length: 500\r\n\r\n[`)]], 0, { timeoutMs: 1500 }),
    ],
    [
      3,
      () => {
        const { part } = signedPart(rng, env, caseIndex, 0);
        const tail = rng.pick(['GARBAGE', 'x'.repeat(3000), '\r\n\r\n', 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n']);
        return raw(`bytes after the body: ${JSON.stringify(tail.slice(0, 20))}`, [[part, bytes(tail)]], tail.startsWith('GET') ? 2 : 1);
      },
    ],
    [
      4,
      () => {
        const n = rng.range(2, 8);
        const parts = Array.from({ length: n }, (_, k) => signedPart(rng, env, caseIndex, k).part);
        return raw('2-8 pipelined signed requests', [parts], n, { timeoutMs: 15_000 });
      },
    ],
    [
      2,
      () => {
        const a = signedPart(rng, env, caseIndex, 0).part;
        const b = signedPart(rng, env, caseIndex, 1).part;
        return raw('pipelined: valid, garbage, valid', [[a, bytes('NONSENSE /v1/agent HTTP/1.1\r\n\r\n'), b]], 1);
      },
    ],
    [
      1,
      () =>
        raw(
          'slowloris: header bytes 200 ms apart, never finished',
          Array.from({ length: 10 }, (_, i) => [bytes(i === 0 ? 'POST /v1/agent HTTP/1.1\r\n' : `x-slow-${i}: ${i}\r\n`)]),
          0,
          { pauseMs: 200, timeoutMs: 2500 },
        ),
    ],
    [
      8,
      () => {
        const line = rng.pick([
          'GARBAGE\r\n\r\n',
          '\r\n\r\n',
          'POST /v1/agent HTTP/9.9\r\nhost: x\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\nhost: x\ncontent-length: 2\n\n[]',
          'POST  /v1/agent  HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n',
          `POST /${'a'.repeat(100_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
          'POST /v1/agent\u0000 HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nno-colon-here\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-length : 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nx-folded: a\r\n  b\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nx-cr: a\rb\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nx(bad): 1\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.0\r\ncontent-length: 2\r\n\r\n[]',
          'POST http://127.0.0.1/v1/agent HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n[]',
          'CONNECT 127.0.0.1:80 HTTP/1.1\r\nhost: x\r\n\r\n',
          'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
          'post /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nx-machpay-agent: \u00ff\u00fe\u0080\r\nx-machpay-timestamp: 1\r\nx-machpay-signature: a\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nx-ctl: a\u0001b\u007f\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\n: empty-name\r\ncontent-length: 0\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n[]',
          'POST /v1/agent HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncontent-length: 0\r\n\r\n',
        ]);
        return raw(`request ${JSON.stringify(line.slice(0, 60))}`, [[{ bytes: Buffer.from(line, 'latin1').toString('base64') }]], 1, { timeoutMs: 3000 });
      },
    ],
    [
      2,
      () => {
        const junk = rng.pick([rng.bytes(rng.range(1, 512)), Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03), new Uint8Array(4096)]);
        return raw(junk[0] === 0x16 ? 'TLS ClientHello' : 'binary junk', [[bytes(junk)]], 1, { timeoutMs: 3000 });
      },
    ],
  ];
  return rng.weighted(makers)();
}
