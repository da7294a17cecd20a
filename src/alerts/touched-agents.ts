/**
 * The agents whose alerts need a look, as the ingest side names them after a commit: a set
 * (an agent touched 1000 times before the next round is evaluated once), bounded so that a
 * flood of distinct agents cannot grow memory. Adding is O(1) and allocates nothing for an
 * agent already in the set; what does not fit is counted, and the evaluator covers it with a
 * pass over every agent instead.
 */
export class TouchedAgents {
  private readonly ids = new Set<string>();
  private dropped = 0;

  constructor(private readonly capacity: number) {}

  /** false when the set is full and `agentId` was not in it (it was dropped). */
  add(agentId: string): boolean {
    if (this.ids.size >= this.capacity && !this.ids.has(agentId)) {
      this.dropped++;
      return false;
    }
    this.ids.add(agentId);
    return true;
  }

  /** Removes and returns up to `n` ids, oldest first. */
  take(n: number): string[] {
    const out: string[] = [];
    for (const id of this.ids) {
      if (out.length >= n) break;
      out.push(id);
    }
    for (const id of out) this.ids.delete(id);
    return out;
  }

  get size(): number {
    return this.ids.size;
  }

  /** Ids refused since the set was created. */
  get droppedTotal(): number {
    return this.dropped;
  }
}
