import { get } from 'node:http';

export interface GetResult {
  status: number;
  body: string;
}

/**
 * One HTTP GET on a connection of its own, closed afterwards. Readiness probes use it
 * instead of global fetch, whose pooled keep-alive sockets would stay open to the server
 * and delay its graceful shutdown (ClickHouse and HTTP servers wait for open connections).
 */
export function getOnce(url: string, timeoutMs: number): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
