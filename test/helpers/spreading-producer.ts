import { bearer, gatewayEvent, interactionEvent, newAgent, postAgentBatch, postEvents, type CloudEvent, type TestAgent } from './agent.js';

const VENDORS = ['vendor-weather', 'vendor-maps'];
const GATEWAYS = ['gw-a', 'gw-b', 'gw-c'];

/**
 * A client in front of several receivers, as a load balancer with retries would be: each
 * attempt goes to the next receiver in turn, and a batch that is not acknowledged (an error
 * status, a connection refused or cut by a kill -9) is sent again, same events, to the next
 * one, until a 202. So one event may reach two receivers, and both may commit it: the
 * natural keys must store it once. Sends signed agent batches (interactions with varied
 * vendors, amounts, latencies and failures) and, with an API key, gateway batches.
 */
export class SpreadingProducer {
  readonly agents: TestAgent[];
  /** `${agentId}:${nonce}` of every interaction acknowledged with 202. */
  readonly acknowledgedInteractions = new Set<string>();
  /** `${source} ${id}` of every gateway event acknowledged with 202. */
  readonly acknowledgedGatewayEvents = new Set<string>();
  /** Attempts by outcome: HTTP status, or `network`. */
  readonly statuses = new Map<string, number>();
  private turn = 0;
  private seed = 0x9e3779b9;

  constructor(
    private readonly urls: () => readonly string[],
    agentCount: number,
    private readonly gatewayKey: string | null,
  ) {
    this.agents = Array.from({ length: agentCount }, () => newAgent());
  }

  get acknowledged(): number {
    return this.acknowledgedInteractions.size + this.acknowledgedGatewayEvents.size;
  }

  /** Deterministic pseudo-random integer in [0, n): repeatable load, no Math.random. */
  private pick(n: number): number {
    let x = this.seed;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed % n;
  }

  private nextUrl(): string {
    const urls = this.urls();
    return urls[this.turn++ % urls.length] as string;
  }

  private count(key: string): void {
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  private interactions(agent: TestAgent, size: number): CloudEvent[] {
    return Array.from({ length: size }, () => {
      const success = this.pick(10) !== 0;
      return interactionEvent(agent.agentId, {
        data: {
          vendor_id: VENDORS[this.pick(VENDORS.length)],
          amount_atomic: 1 + this.pick(5000),
          latency_ms: 1 + this.pick(3000),
          success,
          ...(success ? {} : { error_type: 'timeout', error_message: 'upstream timed out' }),
        },
      });
    });
  }

  private gatewayRequests(size: number): CloudEvent[] {
    return Array.from({ length: size }, () => {
      const failed = this.pick(8) === 0;
      return gatewayEvent({
        data: {
          gateway_id: GATEWAYS[this.pick(GATEWAYS.length)],
          vendor_id: VENDORS[this.pick(VENDORS.length)],
          status_code: failed ? 502 : 200,
          latency_ms: 1 + this.pick(2000),
          amount_atomic: 1 + this.pick(4000),
          ...(failed ? { error_code: 'upstream' } : {}),
        },
      });
    });
  }

  /** Sends `events` until a receiver acknowledges them or the deadline passes. */
  private async deliver(send: (url: string) => Promise<number | null>, deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      const status = await send(this.nextUrl()).catch(() => null);
      this.count(status === null ? 'network' : String(status));
      if (status === 202) return true;
      await new Promise((r) => setTimeout(r, status === null ? 50 : 25));
    }
    return false;
  }

  async sendAgentBatch(agent: TestAgent, size: number, deadline: number): Promise<boolean> {
    const events = this.interactions(agent, size);
    const ok = await this.deliver(async (url) => (await postAgentBatch(url, agent, events, { signer: 'node' })).status, deadline);
    if (ok) for (const e of events) this.acknowledgedInteractions.add(`${agent.agentId}:${String((e.data as { nonce: number }).nonce)}`);
    return ok;
  }

  async sendGatewayBatch(size: number, deadline: number): Promise<boolean> {
    if (this.gatewayKey === null) return false;
    const key = this.gatewayKey;
    const events = this.gatewayRequests(size);
    const body = JSON.stringify(events);
    const ok = await this.deliver(async (url) => (await postEvents(url, '/v1/ingest', body, bearer(key))).status, deadline);
    if (ok) for (const e of events) this.acknowledgedGatewayEvents.add(`${e.source} ${e.id}`);
    return ok;
  }

  /**
   * `concurrency` loops until `untilMs`, each alternating an agent batch and (with an API
   * key) a gateway batch of `size` events; a batch started before `untilMs` is retried
   * until `retryDeadlineMs`.
   */
  async run(concurrency: number, size: number, untilMs: number, retryDeadlineMs: number): Promise<void> {
    const loops = Array.from({ length: concurrency }, async (_, i) => {
      const agent = this.agents[i % this.agents.length] as TestAgent;
      while (Date.now() < untilMs) {
        await this.sendAgentBatch(agent, size, retryDeadlineMs);
        await this.sendGatewayBatch(size, retryDeadlineMs);
      }
    });
    await Promise.all(loops);
  }
}
