import { describe, expect, it } from 'vitest';
import { main } from './stromboli.ts';

describe('stromboli api', () => {
  it('needs --store kube and one namespace, and never takes the log token in argv', async () => {
    await expect(main(['api'], () => {})).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/needs --store kube/) });
    await expect(main(['api', '--store', 'kube', '--all-namespaces'], () => {})).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/one namespace/) });
    const refused = main(['api', '--store', 'kube', '--log-token=s3cret-value'], () => {});
    await expect(refused).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--log-token is not accepted.*--log-token-file/) });
    await expect(refused).rejects.not.toMatchObject({ message: expect.stringContaining('s3cret-value') });
  });

  it('is in the usage text with its options', async () => {
    let out = '';
    await main(['--help'], (t) => (out += t));
    expect(out).toMatch(/api --store kube/);
    expect(out).toMatch(/--log-address HOST:PORT --log-token-file FILE/);
  });
});
