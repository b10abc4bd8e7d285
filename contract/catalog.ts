// What the facade shows of the host besides runs: health components, local images, podman
// secrets, sessions and their transcripts. The controller's catalog (controller/src/catalog/)
// produces these values and implements the ports of ports.ts; the facade's routes render them in
// Stromboli's snake_case. One definition, so a drift is a compile error where it happens.

/** One dependency of /health. */
export interface HealthComponent {
  name: string;
  status: 'ok' | 'error';
  error?: string;
}

/** Stromboli's ranks: 1 the agent image, 2 verified compatible, 3 ordinary (glibc assumed), 4 known incompatible (musl / no libc). */
export type CompatibilityRank = 1 | 2 | 3 | 4;

/** A repository a registry search found (GET /images/search). */
export interface RegistryHit {
  /** The registry, e.g. 127.0.0.1:5000. */
  index: string;
  /** The full repository name, e.g. 127.0.0.1:5000/stromboli/agent. */
  name: string;
  description: string;
  stars: number;
  official: boolean;
  automated: boolean;
}

/** An image pulled from the registry (POST /images/pull). */
export interface PulledImage {
  imageId: string;
  /** The fully qualified name it was pulled as. */
  image: string;
}

/** A local image, one row per name. */
export interface ImageInfo {
  id: string;
  /** e.g. localhost/stromboli/agent, or '<none>' for an image without a name. */
  repository: string;
  /** e.g. latest, or '<none>'. */
  tag: string;
  sizeBytes: number;
  /** RFC 3339, when podman says. */
  created?: string;
  rank: CompatibilityRank;
  compatible: boolean;
  hasClaudeCli: boolean;
  description?: string;
}

/** A podman secret as listed (podman never shows values). */
export interface SecretInfo {
  id: string;
  name: string;
  /** When podman created it, as podman reports it; absent when podman's listing does not say. */
  createdAt?: string;
}

/** A session in GET /sessions. */
export interface SessionSummary {
  id: string;
  /** The session's title, or '' when Claude recorded none. */
  title: string;
}

/** One content block of a message (text, tool_use, tool_result; other types keep only `type`). */
export interface HistoryBlock {
  type: string;
  text?: string;
  /** tool_use id. */
  id?: string;
  /** Tool name (tool_use). */
  name?: string;
  /** Tool input (tool_use). */
  input?: Record<string, unknown>;
  /** The tool_use a tool_result answers. */
  toolUseId?: string;
  /** A tool_result's content as text (text parts of an array joined with newlines). */
  content?: string;
  isError?: boolean;
}

/** Token counts of one assistant message. */
export interface HistoryUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** The `message` of a transcript line. */
export interface HistoryContent {
  role?: string;
  model?: string;
  /** The Messages API id (msg_…). */
  messageId?: string;
  blocks: HistoryBlock[];
  stopReason?: string;
  usage?: HistoryUsage;
}

/** What a tool printed (`toolUseResult` of a tool-result line, when it is an object). */
export interface HistoryToolResult {
  stdout?: string;
  stderr?: string;
  interrupted?: boolean;
  isImage?: boolean;
}

/** One line of a session transcript that is part of the conversation. */
export interface HistoryMessage {
  type: string;
  uuid?: string;
  parentUuid?: string;
  sessionId?: string;
  /** ISO-8601 as Claude wrote it; absent when missing or not a date. */
  timestamp?: string;
  cwd?: string;
  gitBranch?: string;
  version?: string;
  permissionMode?: string;
  content?: HistoryContent;
  toolResult?: HistoryToolResult;
}
