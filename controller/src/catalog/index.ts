// What the API sees of the host besides runs: health, sessions and their history, podman
// secrets, local images, the configured registry. Implementations of the facade's catalog ports (contract/ports.ts), wired by cmd/.
export { HealthChecker, HealthComponents } from './health.ts';
export type { HealthCheckerOptions, HealthComponent } from './health.ts';
export { ImageCatalog, checkImageRef, rankImage } from './images.ts';
export type { CompatibilityRank, ImageCatalogOptions, ImageInfo } from './images.ts';
export { REGISTRY_HOST_PATTERN, RegistryCatalog, qualifyImageRef } from './registry.ts';
export type { RegistryCatalogOptions } from './registry.ts';
export { ReservedSecretError, SecretCatalog, SecretExistsError, checkSecretName } from './secrets.ts';
export type { SecretCatalogOptions, SecretInfo } from './secrets.ts';
export { CONVERSATION_TYPES, findTranscript, parseHistoryLine, readTranscriptLines, titleOf } from './session-history.ts';
export type { HistoryMessage } from './session-history.ts';
export { SessionCatalog, sessionInUse } from './sessions.ts';
export type { SessionCatalogOptions, SessionSummary, SessionUser } from './sessions.ts';
