// The port through which the reconciler reads a prompt that spec.promptFrom names (a key of a
// ConfigMap or Secret in the run's namespace), once, when the run starts. The text goes into the
// runner's StartRequest only: never into status, events or logs. Implementations:
// KubePromptSource (store/kube/kube-prompt-source.ts), noPromptSource (the embedded mode has no
// cluster: promptFrom is refused), FakePromptSource (unit tests).
import type { PromptFrom } from '../../../contract/apis/v1alpha1/index.ts';
import { MAX_PROMPT_BYTES, Reasons } from '../../../contract/apis/v1alpha1/index.ts';
import { TerminalError } from '../../../contract/errors.ts';

export interface PromptSource {
  /**
   * The prompt that `from` names, in `namespace`. Throws TerminalError(PromptNotFound) when the
   * object or key does not exist; anything else (API down, forbidden) is retried by the loop.
   */
  read(namespace: string, from: PromptFrom): Promise<string>;
}

/** What promptFrom names, for messages: `configmap prompts key task`. Never the value. */
export function describePromptFrom(from: PromptFrom): string {
  if (from.configMapKeyRef !== undefined) return `configmap ${from.configMapKeyRef.name} key ${from.configMapKeyRef.key}`;
  if (from.secretKeyRef !== undefined) return `secret ${from.secretKeyRef.name} key ${from.secretKeyRef.key}`;
  return 'nothing';
}

/** The error for a missing ConfigMap, Secret or key. */
export function promptNotFound(namespace: string, from: PromptFrom, what: string): TerminalError {
  return new TerminalError(Reasons.PromptNotFound, `spec.promptFrom: ${describePromptFrom(from)} in namespace ${namespace}: ${what}`);
}

/** Checks a prompt read from promptFrom as spec.prompt is checked: not empty, at most MAX_PROMPT_BYTES. */
export function checkSourcedPrompt(namespace: string, from: PromptFrom, text: string): string {
  if (text === '') throw new TerminalError(Reasons.InvalidSpec, `spec.promptFrom: ${describePromptFrom(from)} in namespace ${namespace} is empty`);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PROMPT_BYTES) {
    throw new TerminalError(Reasons.InvalidSpec, `spec.promptFrom: ${describePromptFrom(from)} in namespace ${namespace} holds ${bytes} bytes, more than the ${MAX_PROMPT_BYTES} a prompt may have`);
  }
  return text;
}

/** The embedded mode's source: there are no ConfigMaps or Secrets without a cluster. */
export const noPromptSource: PromptSource = {
  read: () => Promise.reject(new TerminalError(Reasons.InvalidSpec, 'spec.promptFrom needs a Kubernetes cluster (stromboli controller --store kube); this server has none: set spec.prompt')),
};

/** In-memory ConfigMaps and Secrets, for tests: `configmap/<name>` or `secret/<name>` → data. */
export class FakePromptSource implements PromptSource {
  readonly objects = new Map<string, Record<string, string>>();
  readonly reads: string[] = [];

  set(namespace: string, kind: 'configmap' | 'secret', name: string, data: Record<string, string>): void {
    this.objects.set(`${namespace}/${kind}/${name}`, data);
  }

  read(namespace: string, from: PromptFrom): Promise<string> {
    const ref = from.configMapKeyRef ?? from.secretKeyRef;
    const kind = from.configMapKeyRef !== undefined ? 'configmap' : 'secret';
    this.reads.push(`${namespace}/${kind}/${ref?.name ?? ''}`);
    const data = this.objects.get(`${namespace}/${kind}/${ref?.name ?? ''}`);
    if (ref === undefined || data === undefined) return Promise.reject(promptNotFound(namespace, from, `${kind} not found`));
    const value = data[ref.key];
    if (value === undefined) return Promise.reject(promptNotFound(namespace, from, `no key ${ref.key}`));
    try {
      return Promise.resolve(checkSourcedPrompt(namespace, from, value));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
}
