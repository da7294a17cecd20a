import { afterAll, beforeAll, expect, it } from 'vitest';
import { newAgent, signAgentRequest } from '../helpers/agent.js';
import { apiKeyWithScopes, bearer, eventsUrl, insertInteractions, listen, startStreamServer, streamDatabase, type StreamDatabase, type StreamServer } from './support.js';

/** The stream's HTTP side: headers, heartbeats, an agent reading its own stream, a graceful close. */
let d: StreamDatabase;
let s: StreamServer;
beforeAll(async () => {
  d = await streamDatabase('stream_conn');
  s = await startStreamServer(d, { heartbeatMs: 200 });
});
afterAll(async () => {
  await s?.close();
  await d?.close();
});

/** Reads the raw body of a stream until `enough` holds for the text so far. */
async function readUntil(res: Response, enough: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  while (!enough(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

it('answers text/event-stream with no-store, and sends `: ping` comments', async () => {
  const key = await apiKeyWithScopes(d.pool, 'tenant-c', ['read']);
  const res = await fetch(eventsUrl(s.baseUrl, 'agent:*'), { headers: bearer(key) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  expect(res.headers.get('cache-control')).toBe('no-store');
  const text = await readUntil(res, (t) => t.split(': ping\n\n').length > 2);
  expect(text.split(': ping\n\n').length).toBeGreaterThan(2);
});

it('lets an agent stream its own topic with a signed GET, and no other', async () => {
  const agent = newAgent();
  const path = `/v1/agent/events?topic=agent:${agent.agentId}`;
  const headers = signAgentRequest(agent, new Uint8Array(0), { path });
  const own = listen(s.baseUrl + path, headers);
  await own.opened;
  await insertInteractions(d.pool, agent.agentId, [5]);
  await own.until((e) => e.length >= 1);
  expect(own.events[0]?.data).toMatchObject({ agent_id: agent.agentId, nonce: '5' });
  own.close();
  const otherPath = `/v1/agent/events?topic=agent:${newAgent().agentId}`;
  expect((await fetch(s.baseUrl + otherPath, { headers: signAgentRequest(agent, new Uint8Array(0), { path: otherPath }) })).status).toBe(404);
  const allPath = '/v1/agent/events?topic=agent:*';
  expect((await fetch(s.baseUrl + allPath, { headers: signAgentRequest(agent, new Uint8Array(0), { path: allPath }) })).status).toBe(403);
  expect((await fetch(s.baseUrl + path, { headers: signAgentRequest(agent, new Uint8Array(0), { path: '/v1/agent/events' }) })).status).toBe(401);
});

it('ends open streams when the receiver closes, so clients reconnect with their last id', async () => {
  const other = await startStreamServer(d);
  const key = await apiKeyWithScopes(d.pool, 'tenant-c', ['read']);
  const res = await fetch(eventsUrl(other.baseUrl, 'agent:*'), { headers: bearer(key) });
  const reading = readUntil(res, () => false, 5000);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  await other.close();
  await reading;
  expect(Date.now() - t0).toBeLessThan(2000);
});
