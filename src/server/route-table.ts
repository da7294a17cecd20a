/**
 * Every (method, path pattern) the server registered, so that a request no route took can be
 * told apart: a known path with the wrong method (405 with `Allow`) or an unknown path (404).
 * Patterns are uWebSockets.js patterns: `:name` matches one non-empty segment, a final `*`
 * matches the rest of the path.
 */

/** One registered route; `method` as the registering code wrote it (`get`, `del`, `DELETE`…). */
export interface RegisteredRoute {
  readonly method: string;
  readonly pattern: string;
}

interface PatternMethods {
  readonly segments: readonly string[];
  readonly prefix: boolean;
  readonly methods: Set<string>;
}

/** uWS names DELETE `del`; everything else is the HTTP method in lower case. */
export function httpMethod(method: string): string {
  const m = method.toUpperCase();
  return m === 'DEL' ? 'DELETE' : m;
}

export class RouteTable {
  private readonly exact = new Map<string, Set<string>>();
  private readonly templated: PatternMethods[] = [];
  private readonly all: RegisteredRoute[] = [];

  add(route: RegisteredRoute): void {
    const method = httpMethod(route.method);
    this.all.push({ method, pattern: route.pattern });
    if (!route.pattern.includes(':') && !route.pattern.endsWith('*')) {
      const set = this.exact.get(route.pattern) ?? new Set<string>();
      set.add(method);
      this.exact.set(route.pattern, set);
      return;
    }
    const prefix = route.pattern.endsWith('*');
    const segments = (prefix ? route.pattern.slice(0, -1) : route.pattern).split('/');
    let entry = this.templated.find((t) => t.prefix === prefix && t.segments.join('/') === segments.join('/'));
    if (entry === undefined) {
      entry = { segments, prefix, methods: new Set() };
      this.templated.push(entry);
    }
    entry.methods.add(method);
  }

  /** Every route added, methods in upper case, in the order they were added. */
  routes(): readonly RegisteredRoute[] {
    return this.all;
  }

  /** The methods some route takes at `path`, sorted; empty when no pattern matches it. */
  allowedMethods(path: string): string[] {
    const methods = new Set(this.exact.get(path));
    if (this.templated.length > 0) {
      const parts = path.split('/');
      for (const t of this.templated) if (matches(t, parts)) for (const m of t.methods) methods.add(m);
    }
    return [...methods].sort();
  }
}

function matches(t: PatternMethods, parts: readonly string[]): boolean {
  if (t.prefix) {
    // `/console/*`: the fixed segments, then anything (the last fixed segment is the empty one before `*`).
    const fixed = t.segments.length - 1;
    if (parts.length < t.segments.length) return false;
    for (let i = 0; i < fixed; i++) if (!segmentMatches(t.segments[i] as string, parts[i] as string)) return false;
    return true;
  }
  if (parts.length !== t.segments.length) return false;
  for (let i = 0; i < parts.length; i++) if (!segmentMatches(t.segments[i] as string, parts[i] as string)) return false;
  return true;
}

function segmentMatches(pattern: string, part: string): boolean {
  return pattern.startsWith(':') ? part !== '' : pattern === part;
}
