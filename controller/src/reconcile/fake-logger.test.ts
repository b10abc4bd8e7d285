import { describe, expect, it } from 'vitest';
import { FakeLogger } from './fake-logger.ts';

describe('FakeLogger', () => {
  it('records children in the parent, with bindings merged under the call fields', () => {
    const root = new FakeLogger();
    const child = root.child({ key: 'ns/a', reconcileId: 'r1' }).child({ reconcileId: 'r2' });
    child.warn({ attempt: 3 }, 'reconcile failed');
    root.info({}, 'controller started');
    expect(root.lines).toEqual([
      { level: 'warn', msg: 'reconcile failed', fields: { key: 'ns/a', reconcileId: 'r2', attempt: 3 } },
      { level: 'info', msg: 'controller started', fields: {} },
    ]);
    expect(root.withMessage('reconcile failed')).toHaveLength(1);
  });
});
