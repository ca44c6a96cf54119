import { type ChildProcess, spawn } from 'node:child_process';

/** A service started as its own Node process; its output is kept to be shown if something goes wrong. */
export interface RunningService {
  name: string;
  port: number;
  process: ChildProcess;
  output: string[];
}

export function startService(
  name: string,
  mainJs: string,
  port: number,
  env: Record<string, string>,
): RunningService {
  const child = spawn(process.execPath, [mainJs], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service: RunningService = { name, port, process: child, output: [] };
  const keep = (chunk: Buffer) => service.output.push(...chunk.toString().trimEnd().split('\n'));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return service;
}

/** Resolves when `GET /health` answers 200; rejects if the process exits first or after `timeoutMs`. */
export async function waitHealthy(service: RunningService, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.process.exitCode !== null) {
      throw new Error(`${service.name} exited with code ${service.process.exitCode} before it was healthy`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${service.port}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${service.name} was not healthy on port ${service.port} after ${timeoutMs} ms`);
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`). */
export async function stopService(service: RunningService, timeoutMs = 15_000): Promise<void> {
  const child = service.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export function printOutput(service: RunningService, write: (line: string) => void): void {
  write(`\n--- ${service.name} output ---`);
  for (const line of service.output) write(`[${service.name}] ${line}`);
}
