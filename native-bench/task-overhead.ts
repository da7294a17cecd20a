/**
 * What a worker task costs beside its signature checks: TaskProcessor.run (verify, decode,
 * validate, COPY row, rollup tally, the output's structured clone) over signed single-event
 * requests in the shared ring, in tasks of 1, 4, 16 and 64 requests, against libsodium's
 * bare verify of the same signed bytes. The pipeline forms a task that would only queue
 * behind a running one from 16 requests up (src/pipeline/task-dispatcher.ts) because of
 * the first rows of this table.
 *
 *   node dist/native-bench/task-overhead.js [--requests=4000] [--rounds=3]
 *
 * Time is this process's CPU time, median of the rounds. One thread; no Piscina messaging
 * (its round trip is on top, once per task).
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { parseArgs } from 'node:util';
import sodium from 'sodium-native';
import { BodyKind } from '../src/codec/index.js';
import { base58Encode, Endpoint, signingPrefix } from '../src/protocol/index.js';
import { recordSize, TaskProcessor, writeRecordHeader } from '../src/pipeline/worker/index.js';
import { RingBuffer } from '../src/ring/index.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '3' } } });
const n = Math.max(64, Number(values.requests));
const rounds = Math.max(1, Number(values.rounds));

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const rawKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
const agentId = base58Encode(rawKey);
const ring = RingBuffer.create(64 * 1024 * 1024);
const processor = new TaskProcessor({ ring: ring.buffer, maxDecodedBytes: 1 << 20, maxEvents: 1000, rollups: true });

/** One signed single-event request per position, written as the HTTP route writes them. */
const positions: number[] = [];
const signed: { message: Buffer; signature: Buffer }[] = [];
const now = Date.now();
for (let i = 0; i < n; i++) {
  const event = {
    specversion: '1.0',
    id: `${agentId}-${i}`,
    source: 'urn:machpay:bench',
    type: 'com.machpay.agent.interaction.v1',
    time: new Date(now + i).toISOString(),
    data: { agent_id: agentId, vendor_id: `vendor-${i % 7}`, request_url: `https://api.vendor.example/v1/search?q=${i}`, request_method: 'GET', amount_atomic: 1500, nonce: i, success: true, latency_ms: 42 },
  };
  const body = Buffer.from(JSON.stringify(event));
  const prefix = signingPrefix(now, '/v1/agent');
  const message = Buffer.concat([Buffer.from(prefix, 'latin1'), body]);
  const signature = sign(null, message, privateKey);
  signed.push({ message, signature });
  const header = { endpoint: Endpoint.Agent, kind: BodyKind.JsonSingle, gzip: false, bodyLength: body.length, signingPrefix: prefix, publicKey: rawKey, signature, agentId, tenantId: '', attributes: null };
  const position = ring.reserve(recordSize(header));
  const view = ring.payload(position);
  const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  body.copy(buf, writeRecordHeader(buf, header));
  ring.publish(position);
  positions.push(position);
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Median CPU µs per request of `pass` (which handles all n requests), after one warm-up pass. */
function perRequest(pass: () => void): number {
  pass();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = cpuMicros();
    pass();
    samples.push((cpuMicros() - start) / n);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)] as number;
}

const verify = perRequest(() => {
  for (const s of signed) if (!sodium.crypto_sign_verify_detached(s.signature, s.message, rawKey)) throw new Error('bench signature did not verify');
});
console.log(`task-overhead: ${n} signed single-event requests (${signed[0]?.message.length ?? 0} signed bytes each), CPU µs per request, median of ${rounds}`);
console.log(`${'libsodium verify alone'.padEnd(28)}${verify.toFixed(1).padStart(8)}`);
for (const size of [1, 4, 16, 64]) {
  const us = perRequest(() => {
    for (let i = 0; i < n; i += size) {
      const out = processor.run({ positions: positions.slice(i, i + size) });
      if (out.statuses[0] !== 202) throw new Error(`bench request refused: ${out.bodies[0]}`);
      structuredClone(out);
    }
  });
  console.log(`${`task of ${size} request(s)`.padEnd(28)}${us.toFixed(1).padStart(8)}   overhead ${(us - verify).toFixed(1)} µs; verify is ${((100 * verify) / us).toFixed(0)}% of the task`);
}
