import { base58Decode, type RequestErrorCode } from '../protocol/index.js';

export interface AgentCredentials {
  agentId: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
  /** The timestamp exactly as sent: it is part of the signed bytes. */
  timestamp: string;
}

const TIMESTAMP = /^\d{1,16}$/;
/** 64 bytes in standard base64 with padding are exactly 86 symbols and "==". */
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;

/**
 * Checks the three signature headers of docs/protocol.md §3 for presence, form and clock window.
 * The signature itself is verified by a worker, over the body as transmitted.
 */
export function parseAgentHeaders(
  agent: string,
  timestamp: string,
  signature: string,
  nowMs: number,
  windowMs: number,
): AgentCredentials | RequestErrorCode {
  if (agent === '' || timestamp === '' || signature === '') return 'missing_signature';
  const publicKey = base58Decode(agent, 32);
  if (publicKey === null || !SIGNATURE.test(signature) || !TIMESTAMP.test(timestamp)) return 'bad_signature';
  if (Math.abs(nowMs - Number(timestamp)) > windowMs) return 'timestamp_out_of_window';
  return { agentId: agent, publicKey, signature: Buffer.from(signature, 'base64'), timestamp };
}
