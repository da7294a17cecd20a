/**
 * Clients for the admission tests: requests sent from a chosen loopback address (all of
 * 127.0.0.0/8 reaches the receiver, and each address is a different client to it), and
 * uploads that send their headers and then trickle the body.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

const agents = new Map<string, Agent>();

function agentFor(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (agent === undefined) {
    agent = new Agent({ keepAlive: true, maxSockets: 64, localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** POSTs `body` to `url + path` from `localAddress`; status 0 when the connection failed. */
export function postFrom(localAddress: string, url: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<Answer> {
  const target = new URL(path, url);
  return new Promise((resolve) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: agentFor(localAddress), headers: { ...headers, 'content-length': String(body.length) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', () => resolve({ status: 0, headers: {}, text }));
      },
    );
    req.on('error', () => resolve({ status: 0, headers: {}, text: '' }));
    req.end(body);
  });
}

export function closeClientAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/** An upload that announced `contentLength` bytes and sends one more byte every `everyMs`. */
export interface SlowUpload {
  socket: Socket;
  /** Everything the receiver sent back so far. */
  received(): string;
  stop(): void;
}

export async function slowUpload(port: number, localAddress: string, head: string, everyMs: number): Promise<SlowUpload> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(head + ' ');
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(' ');
  }, everyMs);
  return {
    socket,
    received: () => text,
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** The request line and headers of a POST, ready for a raw socket. */
export function requestHead(path: string, headers: Record<string, string>): string {
  return `POST ${path} HTTP/1.1\r\nhost: receiver\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
