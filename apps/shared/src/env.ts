/** The process environment, or a plain object in tests. */
export type Env = Record<string, string | undefined>;

/** A non-empty variable, or `fallback`; throws a message naming the variable when it is required and unset. */
export function envString(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim();
  if (value) return value;
  if (fallback !== undefined) return fallback;
  throw new Error(`Environment variable ${name} is required.`);
}

/** An optional variable: undefined when unset or blank. */
export function envOptional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** A TCP port (0 picks a free one). */
export function envPort(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Environment variable ${name} must be a port number (0-65535), got '${raw}'.`);
  }
  return port;
}
