/** The remote mode's key file: every accepted form gives the agent of docs/protocol.md §3's worked example. */
import { describe, expect, it } from 'vitest';
import { AgentSet } from '../../bench/agents.js';
import { parseAgentKeys } from '../../bench/key-file.js';

const SEED = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const PUBLIC = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const AGENT = 'FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF';

describe('parseAgentKeys', () => {
  it('reads a hex seed, a hex secret key and a Solana keypair array as the same agent', () => {
    const solana = JSON.stringify([...Buffer.from(SEED + PUBLIC, 'hex')]);
    const keys = parseAgentKeys(`# three forms of one key\n${SEED}\n\n${SEED}${PUBLIC}\n${solana}\n`);
    expect(new AgentSet(keys).ids()).toEqual([AGENT, AGENT, AGENT]);
  });

  it('names the line that is not a key, without echoing it', () => {
    expect(() => parseAgentKeys(`${SEED}\nnot-a-secret-key\n`)).toThrow(/^line 2 is not an Ed25519 key/);
    expect(() => parseAgentKeys(`${SEED}\nnot-a-secret-key\n`)).not.toThrow(/not-a-secret/);
    expect(() => parseAgentKeys('# only a comment\n')).toThrow('no keys');
  });
});
