import { createPublicKey, type KeyObject } from 'node:crypto';

/** DER prefix of an SPKI-wrapped raw Ed25519 public key (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Imported Ed25519 keys by agent id. Importing a key costs more than verifying with it,
 * so each worker keeps a bounded cache; when full it evicts the oldest entry (Map
 * iteration order), which is cheap and good enough for a working set of active agents.
 */
export class AgentKeyCache {
  private readonly keys = new Map<string, KeyObject>();
  constructor(private readonly capacity: number) {}

  get(agentId: string, rawPublicKey: Uint8Array): KeyObject {
    let key = this.keys.get(agentId);
    if (key === undefined) {
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, rawPublicKey]), format: 'der', type: 'spki' });
      if (this.keys.size >= this.capacity) {
        const oldest = this.keys.keys().next();
        if (oldest.done !== true) this.keys.delete(oldest.value);
      }
      this.keys.set(agentId, key);
    }
    return key;
  }

}
