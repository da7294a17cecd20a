/**
 * The HTTP ceiling: a bare uWebSockets.js endpoint that takes the same POSTs as the receiver
 * (any path, bodies read to the end) and answers 202 with a body of the same shape, doing no
 * other work. Driven by the same load generator as the receiver, it is the most any receiver
 * on uWS could answer on this machine with this client.
 *
 *   PORT=8082 node dist/native-bench/http-ceiling.js
 */
import uWS from 'uWebSockets.js';

const port = Number(process.env.PORT ?? 8082);
const host = process.env.HOST ?? '127.0.0.1';
const ACK = '{"accepted":1,"rejected":[]}';

if (typeof (uWS as unknown as Record<string, unknown>).getParts !== 'function') {
  throw new Error('uWebSockets.js loaded its pure-JS fallback, not the native binary: a ceiling measured on it would be meaningless');
}

const app = uWS.App();
app.post('/*', (res) => {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  res.onData((_chunk, isLast) => {
    if (!isLast || aborted) return;
    res.cork(() => {
      res.writeStatus('202 Accepted').writeHeader('content-type', 'application/json').end(ACK);
    });
  });
});
app.get('/readyz', (res) => {
  res.writeHeader('content-type', 'application/json').end('{"status":"ready"}');
});

let listenSocket: uWS.us_listen_socket | null = null;
app.listen(host, port, (socket) => {
  if (socket === false) {
    process.stderr.write(`http-ceiling: could not listen on ${host}:${port}\n`);
    process.exit(1);
  }
  listenSocket = socket;
  process.stdout.write(`http-ceiling listening on ${host}:${port}\n`);
});

const stop = () => {
  if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
