/**
 * A TCP relay in front of the console's server, so a test can drop every open connection
 * (the live stream included) the way a network failure does, and see what the browser sends
 * when it connects again.
 */
import net from 'node:net';

export interface DropProxy {
  /** http://127.0.0.1:port of the relay. */
  url: string;
  /** The first bytes of every connection accepted so far (request lines and headers). */
  openings: string[];
  /** Destroys every open connection, both sides; new ones are accepted as before. */
  dropAll(): number;
  close(): Promise<void>;
}

export async function startDropProxy(targetPort: number): Promise<DropProxy> {
  const open = new Set<net.Socket>();
  const openings: string[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    let first = true;
    client.on('data', (chunk: Buffer) => {
      if (first) openings.push(chunk.toString('latin1'));
      first = false;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    openings,
    dropAll() {
      const n = open.size;
      for (const s of open) s.destroy();
      open.clear();
      return n;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
