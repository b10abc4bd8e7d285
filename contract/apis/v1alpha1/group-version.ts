// The API group and version, in a module that imports nothing: the CLI's client commands need
// these names without loading the zod schemas of agentrun.ts.

export const GROUP = 'stromboli.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
