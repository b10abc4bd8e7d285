// Public surface of the AgentRun API types: the only path api-server/ and scripts/ import.
export * from './agentrun.ts';
export * from './conditions.ts';
export * from './claude.ts';
export * from './podman.ts';
