// The Argo CD health check shipped in docs/argocd-health.lua, run by Debian's Lua 5.1 (installed
// by scripts/lib/lua.sh; a missing interpreter fails the test, it never skips) on the object of
// every state a run goes through and of every example, built by the controller's own status
// code (controller/test/health/). The expected statuses are the table of docs/kubernetes-health.md.
// In the kube project because it shares kstatus.int.test.ts's objects and the project's tools;
// it needs no API server.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test-infra/kube/tools.ts';
import { exampleStates, lifecycleStates } from '../health/agentrun-states.ts';
import type { AgentRunState } from '../health/agentrun-states.ts';
import { luaInterpreter, runHealthCheck, toLuaLiteral } from '../health/lua.ts';
import { runTool } from './test-bed.ts';

const HEALTH_CHECK = join(REPO_ROOT, 'docs', 'argocd-health.lua');

async function check(states: readonly AgentRunState[]): Promise<void> {
  const results = await runHealthCheck(HEALTH_CHECK, states.map((s) => s.object));
  const got = Object.fromEntries(states.map((s, i) => [s.name, results[i]?.status]));
  const want = Object.fromEntries(states.map((s) => [s.name, s.argocd]));
  expect(got).toEqual(want);
  states.forEach((s, i) => {
    expect(results[i]?.message.toLowerCase(), s.name).toContain(s.argocdMessage.toLowerCase());
  });
}

describe('Argo CD health check (docs/argocd-health.lua) under Lua 5.1', () => {
  it('runs on Lua 5.1, the language Argo CD runs health checks in', async () => {
    const version = await runTool(luaInterpreter(), ['-v']);
    expect(version.exitCode, `${luaInterpreter()} -v failed (run \`bash scripts/lib/lua.sh\`): ${version.stderr}`).toBe(0);
    expect(`${version.stdout}${version.stderr}`).toMatch(/^Lua 5\.1\./);
  });

  it('hands objects over exactly (quotes, backslashes, newlines, UTF-8, nested lists)', async () => {
    const tricky = { metadata: { name: 'x' }, status: { observedGeneration: 1, conditions: [{ type: 'Succeeded', status: 'False', reason: 'Crashed', message: 'a "quoted" \\ path\nsecond line ✓' }] } };
    expect(toLuaLiteral([1, 'a'])).toBe('{1, "a"}');
    const [result] = await runHealthCheck(HEALTH_CHECK, [tricky]);
    expect(result).toEqual({ status: 'Degraded', message: 'Crashed: a "quoted" \\\\ path\\nsecond line ✓' });
  });

  it('every state of a run: Progressing while under way, Healthy on success, Degraded on failure or cancel, Suspended while held', async () => {
    await check(lifecycleStates());
  });

  it('every example of examples/ in the state it declares', async () => {
    const states = exampleStates();
    expect(states.length).toBeGreaterThanOrEqual(10);
    await check(states);
  });

  it('says Progressing, not an error, for a bare object (no spec, no status)', async () => {
    const [result] = await runHealthCheck(HEALTH_CHECK, [{ apiVersion: 'stromboli.dev/v1alpha1', kind: 'AgentRun', metadata: { name: 'bare' } }]);
    expect(result?.status).toBe('Progressing');
  });
});
