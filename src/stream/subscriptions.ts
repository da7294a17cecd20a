import type { LogRow, RowFilter, Wanted } from './log-reader.js';
import type { Subscriber } from './subscriber.js';

/**
 * Who subscribes to what on one receiver: each subscriber filed under its agent (`agent:{id}`)
 * or its key's tenant (`agent:*`). It answers which rows a live read must return and who
 * gets a row that was read.
 */
export class Subscriptions {
  readonly all = new Set<Subscriber>();
  private readonly byAgent = new Map<string, Set<Subscriber>>();
  private readonly byTenant = new Map<string, Set<Subscriber>>();
  /** What wanted() answers until an agent or tenant is added or removed: the same object, which lets a reader reuse what it prepared for it. */
  private wantedNow: Wanted | null = null;

  add(sub: Subscriber): void {
    this.all.add(sub);
    const [map, key] = this.filedUnder(sub);
    let set = map.get(key);
    if (set === undefined) {
      map.set(key, (set = new Set()));
      this.wantedNow = null;
    }
    set.add(sub);
  }

  /** False when it was not here. */
  remove(sub: Subscriber): boolean {
    if (!this.all.delete(sub)) return false;
    const [map, key] = this.filedUnder(sub);
    const set = map.get(key);
    set?.delete(sub);
    if (set?.size === 0) {
      map.delete(key);
      this.wantedNow = null;
    }
    return true;
  }

  /** The agents and tenants subscribed here: a live read returns only their rows. */
  wanted(): Wanted {
    this.wantedNow ??= { agents: [...this.byAgent.keys()], tenants: [...this.byTenant.keys()] };
    return this.wantedNow;
  }

  /** Calls `to` for each subscriber that gets this row (at most once each). */
  eachFor(r: LogRow, to: (s: Subscriber) => void): void {
    const agentSubs = this.byAgent.get(r.agentId);
    if (agentSubs !== undefined) {
      for (const s of agentSubs) {
        // A key reads an agent only while it is linked to the key's tenant.
        if (s.reader.kind === 'agent' || s.reader.tenantId === r.tenantId) to(s);
      }
    }
    if (r.tenantId !== null) {
      const tenantSubs = this.byTenant.get(r.tenantId);
      if (tenantSubs !== undefined) for (const s of tenantSubs) to(s);
    }
  }

  /** The map and key a subscriber is filed under: its agent, or its tenant for `agent:*`. */
  private filedUnder(sub: Subscriber): [Map<string, Set<Subscriber>>, string] {
    if (sub.topic.kind === 'agent') return [this.byAgent, sub.topic.agentId];
    return [this.byTenant, sub.reader.kind === 'tenant' ? sub.reader.tenantId : ''];
  }
}

/** The rows a subscriber's catch-up reads: its agent's, or its tenant's agents'. */
export function rowFilter(sub: Subscriber): RowFilter {
  if (sub.topic.kind === 'agent') {
    return { agentId: sub.topic.agentId, tenantId: sub.reader.kind === 'tenant' ? sub.reader.tenantId : null };
  }
  return { tenantId: sub.reader.kind === 'tenant' ? sub.reader.tenantId : '' };
}
