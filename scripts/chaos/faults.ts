import type { Broker, Postgres } from './infra';
import type { Random } from './plan';
import { type ServiceProcess, sleep } from './services';

export type Fault = { at: number } & (
  | { kind: 'kill'; target: string }
  | { kind: 'restart'; target: string }
  | { kind: 'broker-drop' }
  | { kind: 'db-drop' }
);

export interface FaultCounts {
  kills: number;
  /** Graceful restarts (SIGTERM, then start), as in a rolling deploy. */
  restarts: number;
  brokerDrops: number;
  dbDrops: number;
  /** Database sessions terminated by the db drops, in all. */
  sessionsTerminated: number;
}

/**
 * When and what: `kills` SIGKILLs dealt round-robin over the processes (in a shuffled order, so each is killed
 * when there are at least as many kills as processes), the broker and database drops. Each strikes just after a
 * random wave of orders has gone out (within a second of it), when that wave's sagas are in flight.
 */
export function scheduleFaults(
  random: Random,
  waves: { count: number; intervalMs: number },
  counts: { kills: number; restarts: number; brokerDrops: number; dbDrops: number },
  targets: readonly string[],
): Fault[] {
  const window = Math.min(waves.intervalMs, 1_000);
  const at = () => random.int(0, waves.count - 1) * waves.intervalMs + random.int(0, window);
  const order = random.shuffle([...targets]);
  const faults: Fault[] = [];
  for (let i = 0; i < counts.kills; i++)
    faults.push({ at: at(), kind: 'kill', target: order[i % order.length] });
  for (let i = 0; i < counts.restarts; i++)
    faults.push({ at: at(), kind: 'restart', target: order[(i + counts.kills) % order.length] });
  for (let i = 0; i < counts.brokerDrops; i++) faults.push({ at: at(), kind: 'broker-drop' });
  for (let i = 0; i < counts.dbDrops; i++) faults.push({ at: at(), kind: 'db-drop' });
  return faults.sort((a, b) => a.at - b.at);
}

/**
 * Executes the schedule. A kill waits until its target is up (and, for an order replica, until the other replica
 * is up: one always serves HTTP); the killed process is restarted in the background (after 0.3–2.5 s, or one time in
 * four after 5–10 s), so that outages overlap. Drops run when due.
 */
export class FaultInjector {
  readonly counts: FaultCounts = { kills: 0, restarts: 0, brokerDrops: 0, dbDrops: 0, sessionsTerminated: 0 };
  /** Graceful stops that needed SIGKILL, or exited with an error. */
  readonly uncleanStops: string[] = [];
  private readonly restarts = new Set<Promise<void>>();

  constructor(
    private readonly services: readonly ServiceProcess[],
    private readonly broker: Broker,
    private readonly pg: Postgres,
    private readonly databases: readonly string[],
    private readonly random: Random,
    private readonly log: (line: string) => void,
  ) {}

  async run(faults: readonly Fault[], start: number): Promise<void> {
    for (const fault of faults) {
      const wait = start + fault.at - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await this.execute(fault);
      } catch (error) {
        this.log(`fault ${fault.kind} failed: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      }
    }
    await Promise.all([...this.restarts]);
  }

  private async execute(fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'kill':
        return this.kill(fault.target);
      case 'restart':
        return this.restart(fault.target);
      case 'broker-drop':
        await this.broker.closeAllConnections();
        this.counts.brokerDrops++;
        this.log(
          `broker drop #${this.counts.brokerDrops}: closed every connection of vhost '${this.broker.vhost}'`,
        );
        return;
      case 'db-drop': {
        const n = await this.pg.terminateSessions(this.databases);
        this.counts.dbDrops++;
        this.counts.sessionsTerminated += n;
        this.log(`db drop #${this.counts.dbDrops}: terminated ${n} sessions of ${this.databases.join(', ')}`);
        return;
      }
    }
  }

  /** Waits until the target is up and, for an order replica, the other replica too. */
  private async ready(target: string): Promise<ServiceProcess> {
    const service = this.service(target);
    await service.waitUp(90_000);
    if (target.startsWith('order-')) {
      for (const other of this.services) {
        if (other !== service && other.id.startsWith('order-')) await other.waitUp(90_000);
      }
    }
    return service;
  }

  private async restart(target: string): Promise<void> {
    const service = await this.ready(target);
    const pid = service.pid;
    const { ms, forced, code } = await service.terminate();
    this.counts.restarts++;
    this.log(
      `restart #${this.counts.restarts}: SIGTERM ${target} (pid ${pid}) stopped in ${ms} ms` +
        `${forced ? ' (FORCED with SIGKILL)' : ''}, code ${code}; starting it again`,
    );
    if (forced || (code !== null && code !== 0)) {
      this.uncleanStops.push(
        `${target} (pid ${pid}): ${forced ? 'needed SIGKILL' : `exit code ${code}`} after ${ms} ms`,
      );
    }
    service.start();
  }

  private async kill(target: string): Promise<void> {
    const service = await this.ready(target);
    const pid = service.pid;
    await service.kill();
    this.counts.kills++;
    // Mostly a quick restart; now and then a long outage, during which the messages for the process pile up
    // (and relays re-publish some of them: two copies of one message can then arrive together).
    const downtime = this.random.next() < 0.25 ? this.random.int(5_000, 10_000) : this.random.int(300, 2_500);
    this.log(`kill #${this.counts.kills}: SIGKILL ${target} (pid ${pid}); restart in ${downtime} ms`);
    const restart = sleep(downtime).then(() => service.start());
    this.restarts.add(restart);
    void restart.finally(() => this.restarts.delete(restart));
  }

  private service(id: string): ServiceProcess {
    const service = this.services.find((s) => s.id === id);
    if (!service) throw new Error(`no service '${id}'`);
    return service;
  }
}
