import { createServer, Socket, type Server } from 'node:net';

/**
 * A TCP proxy a test controls, to stand between a client and PostgreSQL and fail the way a
 * network or a failover does:
 *  - `forward`: bytes pass both ways (new and existing connections);
 *  - `blackhole`: connections stay open and bytes sent either way vanish, without a reset or
 *    a close: a server that silently drops packets. New connections are accepted and hang;
 *  - `refuse`: every connection, open or new, is reset at once (a server that is down).
 * Switching back to `forward` resumes forwarding on connections that survived.
 */
export type ProxyMode = 'forward' | 'blackhole' | 'refuse';

export interface TcpProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlThrough(url: string): string;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): void;
  /** Connections currently open through the proxy. */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  const pairs = new Set<Pair>();

  const end = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  };

  // Bytes go through only in forward mode; in blackhole mode they are read and dropped, so
  // the sender's kernel sees them taken and nothing ever comes back.
  const pipe = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (mode === 'forward' && !to.destroyed) to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = new Socket();
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('error', () => end(pair));
    client.on('close', () => end(pair));
    upstream.on('error', () => end(pair));
    upstream.on('close', () => end(pair));
    pipe(client, upstream);
    pipe(upstream, client);
    upstream.setNoDelay(true);
    upstream.connect(targetPort, targetHost);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP address');
  const port = address.port;

  return {
    port,
    urlThrough(url: string): string {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    mode: () => mode,
    setMode(next: ProxyMode): void {
      mode = next;
      if (next === 'refuse') {
        for (const pair of [...pairs]) {
          pair.client.resetAndDestroy();
          end(pair);
        }
      }
    },
    connections: () => pairs.size,
    async close(): Promise<void> {
      for (const pair of [...pairs]) end(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
