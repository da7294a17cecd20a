import { interactionEvent, newAgent, postAgentBatch, type CloudEvent, type TestAgent } from './agent.js';

/**
 * What a well-behaved SDK does: send a batch, and resend the same events (same ids and
 * nonces) until they are acknowledged. Records every acknowledged event, so that a test
 * can check each is stored exactly once.
 */
export class RetryingProducer {
  readonly agents: TestAgent[];
  /** `${agentId}:${nonce}` of every event acknowledged with 202. */
  readonly acknowledged = new Set<string>();
  readonly statuses = new Map<string, number>();
  private url: string;

  constructor(url: string, agentCount: number) {
    this.url = url;
    this.agents = Array.from({ length: agentCount }, () => newAgent());
  }

  /** Points the producer at a restarted receiver. */
  retarget(url: string): void {
    this.url = url;
  }

  private count(key: string): void {
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  /** Sends one batch for `agent`, retrying until a 202 or the deadline. */
  async send(agent: TestAgent, size: number, deadline: number): Promise<boolean> {
    const events: CloudEvent[] = Array.from({ length: size }, () => interactionEvent(agent.agentId));
    while (Date.now() < deadline) {
      const res = await postAgentBatch(this.url, agent, events, { signer: 'node' }).catch(() => null);
      this.count(res === null ? 'network' : String(res.status));
      if (res?.status === 202) {
        for (const e of events) this.acknowledged.add(`${agent.agentId}:${String((e.data as { nonce: number }).nonce)}`);
        return true;
      }
      await new Promise((r) => setTimeout(r, res === null ? 100 : 50));
    }
    return false;
  }

  /** Runs `concurrency` loops, each sending batches of `size` until `untilMs`. */
  async run(concurrency: number, size: number, untilMs: number, retryDeadlineMs: number): Promise<void> {
    const loops = Array.from({ length: concurrency }, async (_, i) => {
      const agent = this.agents[i % this.agents.length] as TestAgent;
      while (Date.now() < untilMs) await this.send(agent, size, retryDeadlineMs);
    });
    await Promise.all(loops);
  }
}
