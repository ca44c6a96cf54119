import type { Type } from '@nestjs/common';
import { PlaceOrderSaga } from '../../apps/order/src/place-order/place-order.saga';
import type { PlaceOrderData } from '../../apps/order/src/place-order/place-order.data';
import { SagaManager, uuidv7, type SagaTransitionEvent } from '../../libs/saga/src';
import { serveControl } from '../lib/control';
import { customerCycle } from '../lib/customers';
import type { BenchService } from './service';

/** A saga that does not finish within this time fails the run instead of hanging it. */
const SAGA_TIMEOUT_MS = 60_000;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Starts sagas with `SagaManager.start` and resolves each when this process commits its terminal state, as
 * reported by `SagaManager.onTransition` (no polling: `waitFor` would read the database).
 *
 * The saga id is only known when `start` resolves (choosing it with the `sagaId` option would make `start` look it
 * up first: one more SELECT per saga). A terminal event that arrives before `start` has resolved is kept in
 * `early` and settled as soon as the id is known, so no completion can be missed.
 */
export class SagaDriver {
  private readonly waiting = new Map<string, Waiter>();
  private readonly early = new Map<string, SagaTransitionEvent>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sagas: SagaManager,
    private readonly saga: Type<unknown>,
    private readonly data: () => object,
  ) {
    this.unsubscribe = sagas.onTransition((event) => {
      if (!event.terminal) return;
      const waiter = this.waiting.get(event.sagaId);
      if (!waiter) {
        this.early.set(event.sagaId, event);
        return;
      }
      this.waiting.delete(event.sagaId);
      clearTimeout(waiter.timer);
      settle(event, waiter.resolve, waiter.reject);
    });
  }

  async startOne(): Promise<void> {
    const sagaId = await this.sagas.start(this.saga, this.data());
    const early = this.early.get(sagaId);
    if (early) {
      this.early.delete(sagaId);
      return new Promise<void>((resolve, reject) => settle(early, resolve, reject));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(sagaId);
        reject(new Error(`saga ${sagaId} did not finish within ${SAGA_TIMEOUT_MS} ms`));
      }, SAGA_TIMEOUT_MS);
      this.waiting.set(sagaId, { resolve, reject, timer });
    });
  }

  /** Rejects the sagas still waited for and stops listening. */
  stop(): void {
    this.unsubscribe();
    for (const [sagaId, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error(`shutting down before saga ${sagaId} finished`));
    }
    this.waiting.clear();
  }
}

function settle(event: SagaTransitionEvent, resolve: () => void, reject: (err: Error) => void): void {
  if (event.status === 'COMPLETED') resolve();
  else reject(new Error(`saga ${event.sagaId} ended ${event.status}: the bench expects the happy path`));
}

/** The driver of the place-order saga: a new order each time, happy path (a bench customer, a country we ship to). */
export function placeOrderDriver(service: BenchService): SagaDriver {
  const nextCustomer = customerCycle();
  return new SagaDriver(service.app.get(SagaManager), PlaceOrderSaga, (): PlaceOrderData => ({
    orderId: uuidv7(),
    customerId: nextCustomer(),
    amount: 42,
    country: 'FR',
    address: '1 rue du Banc, 75001 Paris',
  }));
}

/**
 * Serves the control protocol for a process that drives the load: stats, one saga per `startOne` (the sample's
 * place-order saga unless another driver is given), shutdown.
 */
export function serveDriverControl(service: BenchService, driver = placeOrderDriver(service)): void {
  serveControl({
    stats: () => service.stats(),
    startOne: () => driver.startOne(),
    shutdown: () => {
      driver.stop();
      return service.close();
    },
  });
}
