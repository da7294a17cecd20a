import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { base58Encode, signingPrefix } from '../src/protocol/index.js';

/** One simulated agent: an Ed25519 key pair and the counters that keep its events unique. */
export interface Agent {
  /** base58 of the raw public key: X-MachPay-Agent and data.agent_id. */
  readonly id: string;
  readonly privateKey: KeyObject;
  /** Next interaction nonce (unique per agent, docs/protocol.md §5). */
  nonce: number;
  /** Next telemetry period (its period_end is the row's time, unique per agent). */
  period: number;
}

/** Fresh agents for one scenario, so its rows can be counted by agent. */
export class AgentSet {
  readonly agents: Agent[];
  private next = 0;

  /** `count` fresh key pairs, or the given Ed25519 private keys (a key file's agents). */
  constructor(countOrKeys: number | readonly KeyObject[]) {
    const keys = typeof countOrKeys === 'number' ? Array.from({ length: countOrKeys }, () => generateKeyPairSync('ed25519').privateKey) : countOrKeys;
    this.agents = keys.map((privateKey) => {
      // SPKI DER of an Ed25519 key is a 12-byte header followed by the 32 raw bytes.
      const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12);
      return { id: base58Encode(raw), privateKey, nonce: 0, period: 0 };
    });
  }

  /** Round robin: consecutive requests come from different agents. */
  take(): Agent {
    const a = this.agents[this.next] as Agent;
    this.next = (this.next + 1) % this.agents.length;
    return a;
  }

  ids(): string[] {
    return this.agents.map((a) => a.id);
  }
}

export const AGENT_PATH = '/v1/agent';

/**
 * Signs a text body: the prefix and the body are encoded into one buffer, signed, and the
 * body is a view of that same buffer (one allocation and one UTF-8 encoding per request).
 */
export function signText(agent: Agent, bodyText: string, timestamp: string): { body: Buffer; signature: string } {
  const prefix = signingPrefix(timestamp, AGENT_PATH);
  const signed = Buffer.from(prefix + bodyText, 'utf8');
  return { body: signed.subarray(prefix.length), signature: sign(null, signed, agent.privateKey).toString('base64') };
}

/** Signs a binary body (MessagePack, gzip) exactly as it will be transmitted. */
export function signBytes(agent: Agent, body: Uint8Array, timestamp: string): { body: Buffer; signature: string } {
  const prefix = signingPrefix(timestamp, AGENT_PATH);
  const signed = Buffer.allocUnsafe(prefix.length + body.byteLength);
  signed.write(prefix, 0, 'latin1');
  signed.set(body, prefix.length);
  return { body: signed.subarray(prefix.length), signature: sign(null, signed, agent.privateKey).toString('base64') };
}

export function agentHeaders(agent: Agent, timestamp: string, signature: string, contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'x-machpay-agent': agent.id,
    'x-machpay-timestamp': timestamp,
    'x-machpay-signature': signature,
  };
}
