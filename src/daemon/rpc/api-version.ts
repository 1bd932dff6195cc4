/**
 * The control API's version, apart from api.ts (its zod schemas) so the CLI can say hello without
 * loading the schemas it never checks. Bumped on any incompatible change; `daemon.hello` tells each side
 * the other's.
 */
export const API_VERSION = 1;
