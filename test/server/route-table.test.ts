/** The table behind 404 and 405: which methods a path takes, from exact, `:param` and `/*` patterns. */
import { describe, expect, it } from 'vitest';
import { httpMethod, RouteTable } from '../../src/server/index.js';

function table(...routes: [string, string][]): RouteTable {
  const t = new RouteTable();
  for (const [method, pattern] of routes) t.add({ method, pattern });
  return t;
}

describe('RouteTable', () => {
  it('collects the methods of an exact path, in upper case and sorted', () => {
    const t = table(['put', '/v1/agent/settings'], ['get', '/v1/agent/settings'], ['post', '/v1/agent']);
    expect(t.allowedMethods('/v1/agent/settings')).toEqual(['GET', 'PUT']);
    expect(t.allowedMethods('/v1/agent')).toEqual(['POST']);
    expect(t.allowedMethods('/v1/agent/settings/')).toEqual([]);
    expect(t.allowedMethods('/v1/agents')).toEqual([]);
  });

  it('matches a :param against one non-empty segment only', () => {
    const t = table(['del', '/v1/agents/:agent_id/link'], ['get', '/v1/webhooks/:id/deliveries'], ['delete', '/v1/webhooks/:id']);
    expect(t.allowedMethods('/v1/agents/abc/link')).toEqual(['DELETE']);
    expect(t.allowedMethods('/v1/agents//link')).toEqual([]);
    expect(t.allowedMethods('/v1/agents/abc/link/x')).toEqual([]);
    expect(t.allowedMethods('/v1/webhooks/1')).toEqual(['DELETE']);
    expect(t.allowedMethods('/v1/webhooks/1/deliveries')).toEqual(['GET']);
  });

  it('matches a final * against the rest of the path, and merges methods of several patterns', () => {
    const t = table(['get', '/console/*'], ['head', '/console/*'], ['get', '/console'], ['post', '/console/special']);
    expect(t.allowedMethods('/console/')).toEqual(['GET', 'HEAD']);
    expect(t.allowedMethods('/console/assets/a.js')).toEqual(['GET', 'HEAD']);
    expect(t.allowedMethods('/console/special')).toEqual(['GET', 'HEAD', 'POST']);
    expect(t.allowedMethods('/console')).toEqual(['GET']);
    expect(t.allowedMethods('/consoles/x')).toEqual([]);
  });

  it('lists every route added with the HTTP name of its method', () => {
    const t = table(['del', '/a/:x'], ['get', '/b']);
    expect(t.routes()).toEqual([
      { method: 'DELETE', pattern: '/a/:x' },
      { method: 'GET', pattern: '/b' },
    ]);
    expect(httpMethod('del')).toBe('DELETE');
    expect(httpMethod('options')).toBe('OPTIONS');
  });
});
