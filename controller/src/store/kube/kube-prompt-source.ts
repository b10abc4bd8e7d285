// KubePromptSource: reads the prompt spec.promptFrom names from a ConfigMap or Secret in the
// run's namespace (CoreV1Api, one GET when the run starts). A missing object or key is
// PromptNotFound (the run ends Failed); other failures are mapped by kube-errors.ts and retried
// by the loop. The value is returned to the reconciler only, never logged.

import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import type { PromptFrom } from '../../../../contract/apis/v1alpha1/index.ts';
import { NotFoundError } from '../../../../contract/errors.ts';
import type { PromptSource } from '../../agentrun/prompt-source.ts';
import { checkSourcedPrompt, promptNotFound } from '../../agentrun/prompt-source.ts';
import { toStoreError } from './kube-errors.ts';

export class KubePromptSource implements PromptSource {
  readonly #api: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
  }

  async read(namespace: string, from: PromptFrom): Promise<string> {
    const text = from.configMapKeyRef !== undefined ? await this.#configMapKey(namespace, from, from.configMapKeyRef) : await this.#secretKey(namespace, from);
    return checkSourcedPrompt(namespace, from, text);
  }

  async #configMapKey(namespace: string, from: PromptFrom, ref: { name: string; key: string }): Promise<string> {
    const configMap = await this.#get(namespace, from, 'configmap', () => this.#api.readNamespacedConfigMap({ namespace, name: ref.name }));
    const value = configMap.data?.[ref.key] ?? decode(configMap.binaryData?.[ref.key]);
    if (value === undefined) throw promptNotFound(namespace, from, `the configmap has no key ${ref.key}`);
    return value;
  }

  async #secretKey(namespace: string, from: PromptFrom): Promise<string> {
    const ref = from.secretKeyRef;
    if (ref === undefined) throw promptNotFound(namespace, from, 'neither configMapKeyRef nor secretKeyRef is set');
    const secret = await this.#get(namespace, from, 'secret', () => this.#api.readNamespacedSecret({ namespace, name: ref.name }));
    const value = decode(secret.data?.[ref.key]) ?? secret.stringData?.[ref.key];
    if (value === undefined) throw promptNotFound(namespace, from, `the secret has no key ${ref.key}`);
    return value;
  }

  async #get<T>(namespace: string, from: PromptFrom, kind: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      const error = toStoreError(err, `read ${kind} for spec.promptFrom`);
      if (error instanceof NotFoundError) throw promptNotFound(namespace, from, `the ${kind} does not exist`);
      throw error;
    }
  }
}

/** A base64 value of Secret.data or ConfigMap.binaryData as UTF-8 text. */
function decode(base64: string | undefined): string | undefined {
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64').toString('utf8');
}
