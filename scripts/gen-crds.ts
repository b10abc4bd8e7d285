// Writes crds/agentrun.yaml (and its copy in charts/stromboli/crds/) from the zod schemas in controller/src/apis (zod → JSON Schema →
// structural OpenAPI v3). `--check` fails when the committed file drifted from the schemas.
// Usage: node scripts/gen-crds.ts [--check]
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import {
  AgentRunSpecSchema,
  AgentRunStatusSchema,
  CATEGORIES,
  GROUP,
  KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from '../contract/apis/v1alpha1/index.ts';

type JsonSchema = { [key: string]: unknown };

/** JSON Schema keywords Kubernetes' structural schemas do not take. */
const DROPPED = new Set(['$schema', 'id', '$id', 'const', 'examples']);

function isRecord(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Makes a zod-emitted schema structural: an empty schema (z.unknown) preserves unknown fields,
 * additionalProperties:false goes (the API server prunes and kubectl validates strictly),
 * the safe-integer bounds zod adds to every int are dropped as noise.
 */
export function toStructural(schema: unknown): JsonSchema {
  if (!isRecord(schema)) return {};
  if (Object.keys(schema).filter((k) => k !== 'description').length === 0) {
    return { ...schema, 'x-kubernetes-preserve-unknown-fields': true };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key)) continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'maximum' && value === Number.MAX_SAFE_INTEGER) || (key === 'minimum' && value === Number.MIN_SAFE_INTEGER)) continue;
    if (key === 'properties' && isRecord(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStructural(v)]));
    } else if ((key === 'items' || key === 'additionalProperties') && isRecord(value)) {
      out[key] = toStructural(value);
    } else {
      out[key] = value;
    }
  }
  if (out.type === 'object' && out.properties === undefined && out.additionalProperties === undefined) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

function jsonSchema(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }));
}

/** CEL rules for what the structural schema cannot say (mirrors the zod refinements). */
function withCel(spec: JsonSchema): JsonSchema {
  const properties = isRecord(spec.properties) ? spec.properties : {};
  const session = isRecord(properties.session) ? properties.session : undefined;
  if (session !== undefined) {
    session['x-kubernetes-validations'] = [
      { rule: '!has(self.resume) || !self.resume || has(self.id)', message: 'session.resume needs session.id' },
    ];
  }
  const promptFrom = isRecord(properties.promptFrom) ? properties.promptFrom : undefined;
  if (promptFrom !== undefined) {
    promptFrom['x-kubernetes-validations'] = [
      { rule: 'has(self.configMapKeyRef) != has(self.secretKeyRef)', message: 'promptFrom needs exactly one of configMapKeyRef or secretKeyRef' },
    ];
  }
  spec['x-kubernetes-validations'] = [
    { rule: 'has(self.prompt) != has(self.promptFrom)', message: 'exactly one of spec.prompt or spec.promptFrom is required' },
    { rule: '!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)', message: 'cancel cannot be undone' },
  ];
  return spec;
}

function withConditionsMap(status: JsonSchema): JsonSchema {
  const properties = isRecord(status.properties) ? status.properties : {};
  const conditions = properties.conditions;
  if (isRecord(conditions)) {
    conditions['x-kubernetes-list-type'] = 'map';
    conditions['x-kubernetes-list-map-keys'] = ['type'];
  }
  return status;
}

/** The whole CustomResourceDefinition object. */
export function agentRunCrd(): JsonSchema {
  const reason = '.status.conditions[?(@.type=="Succeeded")].reason';
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: [...SHORT_NAMES], categories: [...CATEGORIES] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Reason', type: 'string', jsonPath: reason },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Duration', type: 'string', jsonPath: '.status.duration', description: 'Wall time from start to completion, written when the run finishes' },
            { name: 'Cost', type: 'number', jsonPath: '.status.usage.costUSD', description: 'Cost in USD reported by the CLI' },
            { name: 'Node', type: 'string', jsonPath: '.status.node', description: 'The node agent that runs it' },
            { name: 'Session', type: 'string', jsonPath: '.status.sessionId', priority: 1 },
            { name: 'Model', type: 'string', jsonPath: '.status.usage.model', priority: 1, description: 'The model the CLI reported' },
            { name: 'Attempt', type: 'integer', jsonPath: '.status.attempt', priority: 1 },
            { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'An AgentRun runs the Claude Code CLI once in a podman container and records the outcome.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: withCel(jsonSchema(AgentRunSpecSchema)),
                status: withConditionsMap(jsonSchema(AgentRunStatusSchema)),
              },
            },
          },
        },
      ],
    },
  };
}

export function renderCrd(): string {
  const header = '# Generated by scripts/gen-crds.ts from controller/src/apis/v1alpha1. Do not edit: run `npm run gen:crds`.\n';
  return header + stringify(agentRunCrd(), { lineWidth: 0 });
}

/** Where the CRD is written: crds/ and the Helm chart's crds/ (the same bytes; Helm installs that copy). */
export const CRD_TARGETS = ['crds/agentrun.yaml', 'charts/stromboli/crds/agentrun.yaml'] as const;

async function main(): Promise<void> {
  const rendered = renderCrd();
  const check = process.argv.includes('--check');
  let stale = false;
  for (const relative of CRD_TARGETS) {
    const target = fileURLToPath(new URL(`../${relative}`, import.meta.url));
    if (check) {
      const current = await readFile(target, 'utf8').catch(() => '');
      if (current !== rendered) {
        process.stderr.write(`${relative} is out of date with controller/src/apis: run \`npm run gen:crds\` and commit the result\n`);
        stale = true;
      } else {
        process.stdout.write(`${relative} is up to date\n`);
      }
      continue;
    }
    await writeFile(target, rendered);
    process.stdout.write(`wrote ${target}\n`);
  }
  if (stale) process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
