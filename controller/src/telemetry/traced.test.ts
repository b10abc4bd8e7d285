import { describe, expect, it } from 'vitest';
import { commandOf, routeOf } from './traced.ts';

describe('span names', () => {
  it('names a CLI span after the command words, never its arguments', () => {
    expect(commandOf(['podman', 'container', 'inspect', '--format', 'json', 'stromboli-x-1'])).toBe('podman container inspect');
    expect(commandOf(['/usr/bin/podman', 'run', '--name', 'n', '-d', 'image', 'claude', '-p', 'a secret prompt'])).toBe('podman run');
    expect(commandOf(['podman', 'secret', 'create', '--env', 'name', 'VAR'])).toBe('podman secret create');
    expect(commandOf(['podman'])).toBe('podman');
  });

  it('names a REST span after the route, with names replaced', () => {
    expect(routeOf({ method: 'GET', path: '/containers/stromboli-x-1/json' })).toBe('GET /containers/{name}/json');
    expect(routeOf({ method: 'POST', path: '/containers/create' })).toBe('POST /containers/create');
    expect(routeOf({ method: 'GET', path: '/containers/json?all=true&filters=%7B%7D' })).toBe('GET /containers/json');
    expect(routeOf({ method: 'DELETE', path: '/containers/abc?force=true' })).toBe('DELETE /containers/{name}');
  });
});
