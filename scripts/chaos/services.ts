import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';

export type ServiceState = 'down' | 'starting' | 'up';

/** An exit the runner did not cause (a crash, or a failed start). */
export interface UnexpectedExit {
  service: string;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the process had answered `/health` before it exited. */
  wasUp: boolean;
  at: number;
  /** The process's last log lines. */
  tail: string[];
}

export interface ServiceSpec {
  /** `order-1`, `order-2`, `payment`, `shipping`. */
  id: string;
  /** The compiled entry point. */
  mainJs: string;
  port: number;
  env: Record<string, string>;
}

const TAIL_LINES = 60;
const RESTART_AFTER_CRASH_MS = 1_000;

/**
 * One service process under supervision, like a container under an orchestrator: it is restarted after an
 * exit the runner did not cause; `kill()` (SIGKILL) leaves it down until `start()`. Its output goes to a log
 * file (and to the console with `verbose`); the last lines are kept to show when something goes wrong.
 */
export class ServiceProcess {
  state: ServiceState = 'down';
  starts = 0;
  kills = 0;
  readonly unexpectedExits: UnexpectedExit[] = [];
  private child?: ChildProcess;
  private readonly log: WriteStream;
  private readonly tail: string[] = [];
  private supervising = true;
  /** Children this runner killed or stopped: their exit is expected. */
  private readonly expected = new WeakSet<ChildProcess>();
  private readonly upWaiters = new Set<() => void>();

  constructor(
    readonly spec: ServiceSpec,
    logDir: string,
    private readonly verbose: boolean,
    private readonly report: (line: string) => void,
  ) {
    this.log = createWriteStream(join(logDir, `${spec.id}.log`), { flags: 'a' });
  }

  get id(): string {
    return this.spec.id;
  }

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get lastLines(): readonly string[] {
    return this.tail;
  }

  /** Spawns the process (when it is not running) and watches `/health` until it answers. */
  start(): void {
    if (this.child || !this.supervising) return; // running, or stopped for good
    this.starts++;
    const child = spawn(process.execPath, [this.spec.mainJs], {
      env: { ...process.env, ...this.spec.env, PORT: String(this.spec.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.state = 'starting';
    this.write(`--- start #${this.starts} (pid ${child.pid}) ---`);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().trimEnd().split('\n')) this.write(line);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    void this.watchHealth(child);
  }

  /** SIGKILL; resolves once the process is gone. It stays down until `start()`. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.kills++;
    this.expected.add(child);
    const exited = waitExit(child);
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * A graceful stop, as in a rolling deploy: SIGTERM, SIGKILL after `timeoutMs`; it stays down until `start()`.
   * Resolves with how long it took and whether it had to be forced.
   */
  async terminate(timeoutMs = 20_000): Promise<{ ms: number; forced: boolean; code: number | null }> {
    const child = this.child;
    if (!child) return { ms: 0, forced: false, code: null };
    this.expected.add(child);
    const began = Date.now();
    const exited = waitExit(child);
    child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    // Diagnostics of a stop that hangs: with CHAOS_DIAG_SIGNAL=SIGUSR2 and the services started with
    // NODE_OPTIONS="--report-on-signal --report-signal=SIGUSR2 --report-directory=…", a Node report (JS stack,
    // open handles) is written half-way to the SIGKILL.
    const diag = process.env.CHAOS_DIAG_SIGNAL as NodeJS.Signals | undefined;
    const report = diag ? setTimeout(() => child.kill(diag), timeoutMs / 2) : undefined;
    const { code } = await exited;
    clearTimeout(timer);
    clearTimeout(report);
    return { ms: Date.now() - began, forced, code };
  }

  /** SIGTERM (SIGKILL after `timeoutMs`) and no more restarts; resolves with how it exited. */
  async stop(
    timeoutMs = 20_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
    this.supervising = false;
    const child = this.child;
    if (!child) return { code: 0, signal: null, forced: false };
    this.expected.add(child);
    const exited = waitExit(child);
    child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const result = await exited;
    clearTimeout(timer);
    return { ...result, forced };
  }

  /** Resolves when `/health` answers 200; rejects after `timeoutMs`. */
  async waitUp(timeoutMs: number): Promise<void> {
    if (this.state === 'up') return;
    let wake!: () => void;
    const up = new Promise<void>((resolve) => (wake = resolve));
    this.upWaiters.add(wake);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.id} was not up after ${timeoutMs} ms (state ${this.state})`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([up, timeout]);
    } finally {
      clearTimeout(timer);
      this.upWaiters.delete(wake);
    }
  }

  async closeLog(): Promise<void> {
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const wasUp = this.state === 'up';
    this.write(`--- exit (pid ${child.pid}): code ${code}, signal ${signal} ---`);
    if (this.child === child) {
      this.child = undefined;
      this.state = 'down';
    }
    if (this.expected.has(child) || !this.supervising) return;
    this.unexpectedExits.push({
      service: this.id,
      pid: child.pid,
      code,
      signal,
      wasUp,
      at: Date.now(),
      tail: [...this.tail],
    });
    this.report(
      `${this.id} (pid ${child.pid}) exited on its own ${wasUp ? 'while up' : 'while starting'} ` +
        `(code ${code}, signal ${signal}): restarting it`,
    );
    setTimeout(() => {
      if (this.supervising) this.start();
    }, RESTART_AFTER_CRASH_MS);
  }

  private async watchHealth(child: ChildProcess): Promise<void> {
    while (this.child === child && this.state === 'starting') {
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok && this.child === child) {
          this.state = 'up';
          for (const wake of this.upWaiters) wake();
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(150);
    }
  }

  private write(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.log.write(`${line}\n`);
    if (this.verbose) console.log(`[${this.id}] ${line}`);
  }
}

function waitExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
