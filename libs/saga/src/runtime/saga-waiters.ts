import { Injectable, Logger } from '@nestjs/common';
import type { SagaStatus } from '../engine/saga-state';

/** A committed change of a saga, as seen by the process that made it. */
export interface SagaTransitionEvent {
  sagaId: string;
  sagaType: string;
  status: SagaStatus;
  /** The step the saga is now on (the last one, once finished). */
  step: string;
  /** True when the status is COMPLETED, COMPENSATED or COMPENSATION_FAILED. */
  terminal: boolean;
}

/**
 * In-process notifications of committed saga transitions: wakes `waitFor()` callers at once, and feeds
 * `SagaManager.onTransition()` listeners (metrics, logs, tests). Only transitions made by this process are seen.
 */
@Injectable()
export class SagaWaiters {
  private readonly logger = new Logger('SagaManager');
  private readonly waiting = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(event: SagaTransitionEvent) => void>();

  /** Calls `callback` when saga `sagaId` reaches a terminal status here; returns the unsubscribe function. */
  on(sagaId: string, callback: () => void): () => void {
    let set = this.waiting.get(sagaId);
    if (!set) this.waiting.set(sagaId, (set = new Set()));
    set.add(callback);
    return () => {
      set.delete(callback);
      if (set.size === 0) this.waiting.delete(sagaId);
    };
  }

  /** Calls `listener` after every committed transition; returns the unsubscribe function. */
  listen(listener: (event: SagaTransitionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(event: SagaTransitionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn(`A transition listener threw: ${String(error)}`);
      }
    }
    if (event.terminal) for (const callback of this.waiting.get(event.sagaId) ?? []) callback();
  }
}
