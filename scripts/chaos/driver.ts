import type { PlannedOrder, Random } from './plan';
import { type ServiceProcess, sleep } from './services';

/** What became of one planned order at the HTTP API. */
export interface Placement {
  order: PlannedOrder;
  /** From the 202 that accepted it. */
  sagaId?: string;
  orderId?: string;
  /** HTTP attempts until accepted. */
  attempts: number;
  /** Set when the order was never accepted (given up after `giveUpMs`, or refused with a 4xx). */
  error?: string;
  /** When the order was posted again with the same key after it was accepted: what the second answer said. */
  resubmitted?: { sagaId?: string; orderId?: string; error?: string };
}

export interface DriverOptions {
  concurrency: number;
  durationMs: number;
  resubmitRate: number;
  /** An order not accepted after this long is given up (reported as a failure). */
  giveUpMs: number;
  /** Per request. */
  requestTimeoutMs: number;
}

/** Orders go out in waves of `concurrency`, one wave every `intervalMs`, over `durationMs`. */
export function waves(
  orders: number,
  concurrency: number,
  durationMs: number,
): { count: number; intervalMs: number } {
  const count = Math.max(1, Math.ceil(orders / concurrency));
  return { count, intervalMs: durationMs / count };
}

/**
 * Places the planned orders through `POST /orders` on the two order replicas. Orders go out in waves of
 * `concurrency` requests spread over `durationMs`, so that the faults meet sagas in flight all along the run.
 * A request that fails in any way (connection refused or reset while a replica is down, 5xx, timeout) is sent
 * again, the same body with the same `Idempotency-Key`, to the other replica, until one accepts it: no order is
 * lost, and none may be placed twice.
 */
export class OrderDriver {
  private inFlight = 0;
  private maxInFlight = 0;
  private retries = 0;
  private accepted = 0;
  private readonly failureKinds = new Map<string, number>();

  constructor(
    private readonly replicas: readonly ServiceProcess[],
    private readonly random: Random,
    private readonly options: DriverOptions,
  ) {}

  get progress(): string {
    const kinds = [...this.failureKinds].map(([kind, n]) => `${kind} ${n}`).join(', ');
    return (
      `accepted ${this.accepted}, in flight ${this.inFlight} (max ${this.maxInFlight}), ` +
      `retried requests ${this.retries}${kinds ? ` (${kinds})` : ''}`
    );
  }

  get stats(): { retries: number; maxInFlight: number; failureKinds: ReadonlyMap<string, number> } {
    return { retries: this.retries, maxInFlight: this.maxInFlight, failureKinds: this.failureKinds };
  }

  async run(orders: readonly PlannedOrder[]): Promise<Placement[]> {
    const { concurrency, durationMs } = this.options;
    const interval = waves(orders.length, concurrency, durationMs).intervalMs;
    const start = Date.now();
    // Decided up front, so that the schedule does not depend on how the requests interleave.
    const plan = orders.map((order) => ({
      order,
      notBefore: start + Math.floor(order.index / concurrency) * interval,
      firstReplica: this.random.int(0, this.replicas.length - 1),
      resubmit:
        this.random.next() < this.options.resubmitRate
          ? this.random.pick(['after', 'racing'] as const)
          : undefined,
    }));
    const placements: Placement[] = new Array<Placement>(orders.length);
    let next = 0;
    const worker = async () => {
      while (next < plan.length) {
        const item = plan[next++];
        const wait = item.notBefore - Date.now();
        if (wait > 0) await sleep(wait);
        placements[item.order.index] = await this.place(item.order, item.firstReplica, item.resubmit);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return placements;
  }

  /**
   * Posts the order. `after`: posts it again once accepted, to the other replica, as a client does after a lost
   * response. `racing`: posts it to both replicas at once (the same key racing through two `start()`s).
   * Either way both answers must name the same saga and order.
   */
  private async place(
    order: PlannedOrder,
    firstReplica: number,
    resubmit: 'after' | 'racing' | undefined,
  ): Promise<Placement> {
    const other = (firstReplica + 1) % this.replicas.length;
    let first: Awaited<ReturnType<OrderDriver['post']>>;
    let again: Awaited<ReturnType<OrderDriver['post']>> | undefined;
    if (resubmit === 'racing') {
      [first, again] = await Promise.all([this.post(order, firstReplica), this.post(order, other)]);
    } else {
      first = await this.post(order, firstReplica);
      if (resubmit === 'after' && first.error === undefined) again = await this.post(order, other);
    }
    if (first.error === undefined) this.accepted++;
    const placement: Placement = { order, ...first };
    if (again) placement.resubmitted = { sagaId: again.sagaId, orderId: again.orderId, error: again.error };
    return placement;
  }

  private async post(
    order: PlannedOrder,
    firstReplica: number,
  ): Promise<{ sagaId?: string; orderId?: string; attempts: number; error?: string; acceptedBy: number }> {
    const deadline = Date.now() + this.options.giveUpMs;
    let replica = firstReplica;
    for (let attempt = 1; ; attempt++) {
      let lastFailure: string;
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        const res = await fetch(`${this.replicas[replica].url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': order.key },
          body: JSON.stringify(order.body),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs),
        });
        const text = await res.text();
        if (res.status === 202) {
          const body = JSON.parse(text) as { sagaId?: unknown; orderId?: unknown };
          if (typeof body.sagaId !== 'string' || typeof body.orderId !== 'string') {
            return { attempts: attempt, error: `202 without sagaId/orderId: ${text}`, acceptedBy: replica };
          }
          return { sagaId: body.sagaId, orderId: body.orderId, attempts: attempt, acceptedBy: replica };
        }
        if (res.status < 500) {
          // A 4xx is the driver's bug or the service's: retrying the same request cannot help.
          return {
            attempts: attempt,
            error: `HTTP ${res.status}: ${text.slice(0, 300)}`,
            acceptedBy: replica,
          };
        }
        lastFailure = `HTTP ${res.status}`;
      } catch (error) {
        lastFailure = describeFetchError(error);
      } finally {
        this.inFlight--;
      }
      this.failureKinds.set(lastFailure, (this.failureKinds.get(lastFailure) ?? 0) + 1);
      if (Date.now() > deadline) {
        return {
          attempts: attempt,
          error: `not accepted after ${attempt} attempts in ${this.options.giveUpMs} ms (last: ${lastFailure})`,
          acceptedBy: replica,
        };
      }
      this.retries++;
      replica = (replica + 1) % this.replicas.length;
      await sleep(50 + this.random.int(0, 200));
    }
  }
}

/** `connection refused`, `connection reset`, `timeout`…: a short, countable kind of failure. */
function describeFetchError(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  const code = cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case undefined:
      return error instanceof Error ? error.message : String(error);
    default:
      return code;
  }
}
