/**
 * The stream scenarios' subscribers: one child process holding every stream as a plain
 * HTTP/1.1 socket that reads every byte, so that what they cost lands in a process of its own
 * (its CPU is reported apart) and never on the stream's or the load generator's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The subscribers' process: raw HTTP/1.1 sockets that read every byte and, for latency, note each nonce's arrival. */
const SUBSCRIBER_CHILD = `
const net = require('node:net');
const { port, streams, noteNonces, arrivalsFile } = JSON.parse(process.argv[1]);
let opened = 0, events = 0, resets = 0;
const arrivals = [];
for (const s of streams) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let head = false, rest = '';
  sock.on('connect', () => sock.write('GET ' + s.path + ' HTTP/1.1\\r\\nHost: bench\\r\\nAuthorization: Bearer ' + s.key + '\\r\\n\\r\\n'));
  sock.on('data', (d) => {
    const at = performance.timeOrigin + performance.now();
    const text = rest + d.toString('latin1');
    const cut = text.lastIndexOf('\\n\\n');
    const whole = cut < 0 ? '' : text.slice(0, cut);
    rest = cut < 0 ? text : text.slice(cut + 2);
    if (!head && whole.includes(': stream open')) { head = true; opened++; }
    let i = -1;
    while ((i = whole.indexOf('\\nevent: ', i + 1)) >= 0) { events++; if (whole.startsWith('reset', i + 8)) resets++; }
    if (noteNonces) for (const m of whole.matchAll(/"nonce" ?: ?"(\\d+)"/g)) arrivals.push(Number(m[1]), at);
  });
  sock.on('error', () => undefined);
}
setInterval(() => process.stdout.write(JSON.stringify({ opened, events, resets }) + '\\n'), 100);
process.stdin.on('data', () => { require('node:fs').writeFileSync(arrivalsFile, JSON.stringify(arrivals)); process.exit(0); });
`;

export interface Subscribers {
  readonly pid: number;
  opened(): number;
  /** Events read (every `event:` line, resets included). */
  events(): number;
  /** `reset` events read. */
  resets(): number;
  /** Stops the process; the arrivals of noted nonces as [nonce, epoch ms, …] pairs. */
  stop(): Promise<number[]>;
}

export function startSubscribers(port: number, streams: { path: string; key: string }[], noteNonces: boolean): Subscribers {
  const arrivalsFile = join(tmpdir(), `stream-scenario-arrivals-${process.pid}-${Date.now()}.json`);
  const child: ChildProcess = spawn(process.execPath, ['-e', SUBSCRIBER_CHILD, JSON.stringify({ port, streams, noteNonces, arrivalsFile })], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let state = { opened: 0, events: 0, resets: 0 };
  let parts: string[] = [];
  child.stdout?.on('data', (d: Buffer) => {
    let text = d.toString();
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      parts.push(text.slice(0, nl));
      text = text.slice(nl + 1);
      state = JSON.parse(parts.join('')) as typeof state;
      parts = [];
    }
    if (text !== '') parts.push(text);
  });
  // The arrivals run to tens of MB: they come through a file once the process has ended.
  const done = new Promise<number[]>((resolve) =>
    child.on('exit', () => {
      let arrivals: number[] = [];
      try {
        arrivals = JSON.parse(readFileSync(arrivalsFile, 'utf8')) as number[];
        rmSync(arrivalsFile, { force: true });
      } catch {
        // Not written (the process failed): no arrivals.
      }
      resolve(arrivals);
    }),
  );
  return {
    pid: child.pid ?? 0,
    opened: () => state.opened,
    events: () => state.events,
    resets: () => state.resets,
    stop: () => {
      child.stdin?.write('report\n');
      return done;
    },
  };
}
