import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../contract/errors.ts';
import {
  parseContainerId,
  parseContainerInspect,
  parseContainerList,
  parseImageList,
  parseSecretList,
  toContainerStatus,
} from './parse.ts';

// Fixtures are real podman 4.3.1 output recorded on this project's machines (fixtures/capture.sh).
function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

function inspectOne(name: string) {
  const states = parseContainerInspect(fixture(name));
  expect(states).toHaveLength(1);
  const [state] = states;
  if (state === undefined) throw new Error('unreachable');
  return state;
}

describe('parseContainerInspect', () => {
  it('reads a running container', () => {
    const state = inspectOne('inspect-running.json');
    expect(state).toEqual({
      id: 'd7f1b1ad7fc6d51fc89650cb11901a238f8e8050427cd54f4a7c71b11aae6d75',
      name: 'strom-fixture-running',
      status: 'running',
      running: true,
      exitCode: undefined,
      oomKilled: false,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      finishedAt: undefined,
      labels: { 'io.buildah.version': '1.28.2', 'stromboli.test/fixture': 'capture', 'stromboli.test/role': 'running' },
      image: 'localhost/stromboli/test-busybox:latest',
      imageId: '99147817831243e95830f89ef197c8c7666a2aa6fececf54079af008754c4f72',
      error: undefined,
    });
  });

  it('reads a created container: never started, so no times and no exit code', () => {
    expect(inspectOne('inspect-created.json')).toMatchObject({ status: 'created', running: false, exitCode: undefined, startedAt: undefined, finishedAt: undefined });
  });

  it('reads an exited container with its exit code and both times', () => {
    const state = inspectOne('inspect-exited.json');
    expect(state).toMatchObject({ status: 'exited', running: false, exitCode: 3, oomKilled: false });
    expect(state.startedAt).toBeDefined();
    expect(state.finishedAt).toBeDefined();
    expect(Date.parse(state.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(state.startedAt ?? ''));
  });

  it('reads a container stopped by podman stop after SIGKILL as exited 137', () => {
    expect(inspectOne('inspect-stopped.json')).toMatchObject({ status: 'exited', exitCode: 137, running: false });
  });

  it('reads a paused container', () => {
    expect(inspectOne('inspect-paused.json')).toMatchObject({ status: 'paused', running: false, exitCode: undefined });
  });

  it('reads the [] podman prints for a missing container as an empty list', () => {
    expect(parseContainerInspect(fixture('inspect-missing.json'))).toEqual([]);
  });

  it('accepts null labels and a missing ImageName', () => {
    const edited = fixture('inspect-exited.json')
      .replace(/"Labels": \{[^}]*\}/, '"Labels": null')
      .replace(/"ImageName": "[^"]*",/, '');
    expect(parseContainerInspect(edited)[0]).toMatchObject({ labels: {}, image: '99147817831243e95830f89ef197c8c7666a2aa6fececf54079af008754c4f72' });
  });

  it('throws ValidationError naming the path when a field we use is missing', () => {
    const edited = fixture('inspect-running.json').replace(/"ExitCode": 0,/, '');
    const error = catchError(() => parseContainerInspect(edited));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ details: { command: 'container inspect', issues: [{ path: '0.State.ExitCode', code: 'invalid_type' }] } });
  });

  it('throws ValidationError for output that is not JSON', () => {
    expect(() => parseContainerInspect('json')).toThrow(ValidationError);
  });
});

describe('parseContainerList', () => {
  it('reads podman ps --all --format json', () => {
    const list = parseContainerList(fixture('ps-by-label.json'));
    const byName = Object.fromEntries(list.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['strom-fixture-created', 'strom-fixture-exited', 'strom-fixture-paused', 'strom-fixture-running', 'strom-fixture-stopped']);
    expect(byName['strom-fixture-running']).toMatchObject({ status: 'running', running: true, exitCode: undefined, finishedAt: undefined, image: 'localhost/stromboli/test-busybox:latest' });
    expect(byName['strom-fixture-running']?.labels).toMatchObject({ 'stromboli.test/fixture': 'capture', 'stromboli.test/role': 'running' });
    expect(byName['strom-fixture-created']).toMatchObject({ status: 'created', running: false, startedAt: undefined, exitCode: undefined });
    expect(byName['strom-fixture-exited']).toMatchObject({ status: 'exited', exitCode: 3, finishedAt: expect.stringMatching(/Z$/) });
    expect(byName['strom-fixture-stopped']).toMatchObject({ status: 'exited', exitCode: 137 });
    expect(byName['strom-fixture-paused']).toMatchObject({ status: 'paused', running: false });
    for (const c of list) expect(c.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads an empty list', () => {
    expect(parseContainerList(fixture('ps-empty.json'))).toEqual([]);
    expect(parseContainerList('null')).toEqual([]);
  });
});

describe('parseSecretList', () => {
  it('reads one JSON object per line', () => {
    expect(parseSecretList(fixture('secret-ls.jsonl')).map((s) => s.name).sort()).toEqual(['strom-fixture-secret-a', 'strom-fixture-secret-b']);
    expect(parseSecretList(fixture('secret-ls.jsonl'))[0]).toEqual({ id: expect.stringMatching(/^[0-9a-f]+$/), name: expect.any(String), driver: 'file' });
  });

  it('reads no secrets from empty output', () => {
    expect(parseSecretList('')).toEqual([]);
  });
});

describe('parseImageList', () => {
  it('reads podman images --format json', () => {
    expect(parseImageList(fixture('images.json'))).toEqual([
      {
        id: '99147817831243e95830f89ef197c8c7666a2aa6fececf54079af008754c4f72',
        names: ['localhost/stromboli/test-busybox:latest'],
        createdAt: expect.stringMatching(/Z$/),
        sizeBytes: 1986012,
      },
    ]);
  });

  it('gives a dangling image no names', () => {
    expect(parseImageList('[{"Id":"abc","Size":1,"Created":1}]')[0]?.names).toEqual([]);
  });
});

describe('toContainerStatus', () => {
  it.each([
    ['created', 'created'],
    ['configured', 'created'],
    ['initialized', 'created'],
    ['running', 'running'],
    ['stopping', 'running'],
    ['paused', 'paused'],
    ['stopped', 'stopped'],
    ['exited', 'exited'],
    ['removing', 'unknown'],
    ['something-new', 'unknown'],
  ])('maps podman state %s to %s', (podman, ours) => {
    expect(toContainerStatus(podman)).toBe(ours);
  });
});

describe('parseContainerId', () => {
  it('reads the id printed by podman run --detach', () => {
    const id = 'd7f1b1ad7fc6d51fc89650cb11901a238f8e8050427cd54f4a7c71b11aae6d75';
    expect(parseContainerId(`${id}\n`)).toBe(id);
    expect(() => parseContainerId('hello')).toThrow(ValidationError);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
