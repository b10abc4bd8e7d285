// What the entry points use of the node agents' log endpoint: the server (on each agent), the
// client LogReader and the cluster sessions (in the facade), and the one logRef format.
export { buildNodeLogApp, DEFAULT_HEARTBEAT_MS } from './server.ts';
export type { NodeLogAppOptions, NodeLogSource } from './server.ts';
export { NodeLogReader, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './client.ts';
export type { NodeLogReaderOptions } from './client.ts';
export { ClusterSessions, SESSIONS_ON_NODES } from './cluster-sessions.ts';
export { checkAdvertiseUrl, logBaseOf, logUrlOf } from './log-ref.ts';
export type { LogRunIdentity } from './log-ref.ts';
export { MIN_LOG_TOKEN_LENGTH, bearerMatches, readLogToken } from './token.ts';
export type { LogToken } from './token.ts';
