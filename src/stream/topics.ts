import { isAgentId } from './read-side.js';

/** `agent:{id}`: one agent; `agent:*`: every agent linked to the subscriber's tenant (docs/read-api.md §4). */
export type Topic = { kind: 'agent'; agentId: string } | { kind: 'tenant' };

export function parseTopic(text: string): Topic | null {
  if (text === 'agent:*') return { kind: 'tenant' };
  if (text.startsWith('agent:') && isAgentId(text.slice(6))) return { kind: 'agent', agentId: text.slice(6) };
  return null;
}

export function topicText(t: Topic): string {
  return t.kind === 'tenant' ? 'agent:*' : `agent:${t.agentId}`;
}
