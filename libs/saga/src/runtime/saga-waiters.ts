import { Injectable } from '@nestjs/common';

/** Wakes `waitFor()` callers in this process as soon as a saga they wait for reaches a terminal status. */
@Injectable()
export class SagaWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Registers a callback; returns the function that unregisters it. */
  on(sagaId: string, callback: () => void): () => void {
    let set = this.waiting.get(sagaId);
    if (!set) this.waiting.set(sagaId, (set = new Set()));
    set.add(callback);
    return () => {
      set.delete(callback);
      if (set.size === 0) this.waiting.delete(sagaId);
    };
  }

  notify(sagaId: string): void {
    for (const callback of this.waiting.get(sagaId) ?? []) callback();
  }
}
