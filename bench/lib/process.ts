import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpuSeconds } from './cpu';

export interface SpawnOptions {
  /** Line on stdout that means the service is ready. Default `READY`. */
  readyLine?: string;
  /** How long to wait for the ready line. Default 30 s. */
  readyTimeoutMs?: number;
  /** Forward the child's stderr live, prefixed with its name (used for the load driver's progress). */
  echoStderr?: boolean;
  /** Extra arguments for node before the entry file. */
  nodeArgs?: string[];
}

export interface StopResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether the grace period ran out and the process had to be killed with SIGKILL. */
  killed: boolean;
  /** CPU seconds (user+sys) the process had used, read just before stopping it. */
  cpuSeconds: number | undefined;
}

/** Lines of output kept per service, shown prefixed when something fails. */
const KEPT_LINES = 200;

/** A child Node process speaking the line protocol of `control.ts` on stdin/stdout. */
export class ServiceHandle {
  private readonly lines: string[] = [];
  private readonly lineWaiters = new Set<(line: string) => boolean>();
  private readonly failWaiters = new Set<(err: Error) => void>();
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    echoStderr: boolean,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.keep(`${name}| ${line}`);
      if (line.startsWith('ERROR ')) {
        const err = new Error(`${name} reported: ${line.slice(6)}\n${this.output()}`);
        for (const fail of this.failWaiters) fail(err);
      }
      for (const waiter of this.lineWaiters) if (waiter(line)) this.lineWaiters.delete(waiter);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.keep(`${name}! ${line}`);
      if (echoStderr) process.stderr.write(`[${name}] ${line}\n`);
    });
    child.on('error', (err) => {
      for (const fail of this.failWaiters) fail(new Error(`${name}: ${err.message}\n${this.output()}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      if (this.stopping) return;
      const err = new Error(`${name} exited unexpectedly (code ${code}, signal ${signal})\n${this.output()}`);
      for (const fail of this.failWaiters) fail(err);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The last lines the service printed, each prefixed with its name (`|` stdout, `!` stderr). */
  output(): string {
    return this.lines.join('\n');
  }

  /** CPU seconds (user+sys) used so far, from /proc/<pid>/stat. */
  cpuSeconds(): number | undefined {
    return this.exited ? undefined : cpuSeconds(this.pid);
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** Waits for the next stdout line starting with `prefix` and returns the rest of it (trimmed). */
  waitForLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.lineWaiters.delete(onLine);
        this.failWaiters.delete(onFail);
      };
      const onLine = (line: string): boolean => {
        if (!line.startsWith(prefix)) return false;
        done();
        resolve(line.slice(prefix.length).trim());
        return true;
      };
      const onFail = (err: Error): void => {
        done();
        reject(err);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no "${prefix}" line within ${timeoutMs} ms\n${this.output()}`));
      }, timeoutMs);
      if (this.exited) return onFail(new Error(`${this.name} is not running\n${this.output()}`));
      this.lineWaiters.add(onLine);
      this.failWaiters.add(onFail);
    });
  }

  /** Sends a command line and waits for the reply line starting with `replyPrefix`. */
  async request(command: string, replyPrefix: string, timeoutMs: number): Promise<string> {
    const reply = this.waitForLine(replyPrefix, timeoutMs);
    this.send(command);
    return reply;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Reads the CPU time just before signalling. */
  async stop(graceMs = 5000): Promise<StopResult> {
    const cpu = this.cpuSeconds();
    if (this.exited) return { ...this.exited, killed: false, cpuSeconds: cpu };
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    return { code: this.exited!.code, signal: this.exited!.signal, killed, cpuSeconds: cpu };
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
  }
}

/**
 * Starts `node <entryJs>` with `env` added to this process's environment and waits for its ready line.
 * On a timeout or an early exit the promise rejects with the service's output, each line prefixed with its name.
 */
export async function spawnService(
  name: string,
  entryJs: string,
  env: Record<string, string>,
  options: SpawnOptions = {},
): Promise<ServiceHandle> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entryJs], {
    env: { ...process.env, ...env, BENCH_SERVICE_NAME: name },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const service = new ServiceHandle(name, child, options.echoStderr ?? false);
  try {
    await service.waitForLine(options.readyLine ?? 'READY', options.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await service.stop(1000);
    throw err;
  }
  return service;
}
