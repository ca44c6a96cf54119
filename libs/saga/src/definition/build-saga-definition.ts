import type { Type } from '@nestjs/common';
import type {
  BusinessErrors,
  CompensationMetadata,
  ReplyHandlerMetadata,
  SagaOrchestrationOptions,
  StepMetadata,
} from '../decorators/options';
import { SagaDefinitionError, StepFailure } from '../errors/saga.errors';
import {
  SAGA_COMPENSATIONS_METADATA,
  SAGA_METADATA,
  SAGA_REPLY_HANDLERS_METADATA,
  SAGA_STEPS_METADATA,
} from '../saga.constants';
import { DEFAULT_AFTER_PIVOT_RETRY, DEFAULT_COMPENSATION_RETRY, DEFAULT_STEP_RETRY } from './defaults';
import type {
  ActionTarget,
  CompensationDefinition,
  ErrorClassifier,
  RetryPolicy,
  SagaDefinition,
  StepDefinition,
} from './saga-definition';

/** True when `target` carries `@SagaOrchestration()` metadata. */
export function isSagaClass(target: Type<unknown>): boolean {
  return Reflect.hasMetadata(SAGA_METADATA, target);
}

/**
 * Reads a saga class's decorators and returns its validated definition. Every problem is reported at
 * once, each naming the class, the method and the fix.
 */
export function buildSagaDefinition(target: Type<unknown>): SagaDefinition {
  const cls = target.name;
  const options = Reflect.getMetadata(SAGA_METADATA, target) as SagaOrchestrationOptions | undefined;
  if (!options)
    throw new SagaDefinitionError(`${cls} is not a saga: decorate it with @SagaOrchestration({ name }).`);
  const stepMeta = (Reflect.getMetadata(SAGA_STEPS_METADATA, target) as StepMetadata[] | undefined) ?? [];
  const compMeta =
    (Reflect.getMetadata(SAGA_COMPENSATIONS_METADATA, target) as CompensationMetadata[] | undefined) ?? [];
  const replyMeta =
    (Reflect.getMetadata(SAGA_REPLY_HANDLERS_METADATA, target) as ReplyHandlerMetadata[] | undefined) ?? [];
  const problems: string[] = [];

  if (!options.name?.trim()) problems.push(`${cls}: @SagaOrchestration() needs a non-empty 'name'.`);
  if (stepMeta.length === 0)
    problems.push(`${cls} declares no steps: decorate its step methods with @Step(order).`);

  const sorted = [...stepMeta].sort((a, b) => a.order - b.order);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].method === sorted[i - 1].method || stepMetaCount(stepMeta, sorted[i].method) > 1) continue;
    if (sorted[i].order === sorted[i - 1].order) {
      problems.push(
        `${cls}.${sorted[i - 1].method} and ${cls}.${sorted[i].method} are both @Step(${sorted[i].order}): give each step its own order.`,
      );
    }
  }
  for (const name of new Set(stepMeta.map((s) => s.method))) {
    if (stepMetaCount(stepMeta, name) > 1)
      problems.push(`${cls}.${name} has @Step() more than once: keep one.`);
  }
  for (const s of sorted) {
    if (!Number.isFinite(s.order)) problems.push(`${cls}.${s.method}: @Step(order) needs a finite number.`);
    if (s.options.command && !s.options.participant) {
      problems.push(`${cls}.${s.method} names a command but no participant: add { participant: '<name>' }.`);
    }
  }
  const pivots = sorted.filter((s) => s.options.pivot);
  if (pivots.length > 1) {
    problems.push(
      `${cls} marks ${pivots.map((p) => p.method).join(' and ')} as pivot: a saga has one pivot step.`,
    );
  }
  const pivotIndex = pivots.length === 1 ? sorted.indexOf(pivots[0]) : sorted.length - 1;
  const stepNames = new Set(sorted.map((s) => s.method));

  const compensations = new Map<string, CompensationMetadata>();
  for (const c of compMeta) {
    if (!stepNames.has(c.step)) {
      problems.push(
        `${cls}.${c.method} is @Compensation('${c.step}') but ${cls} has no step '${c.step}': use the step method's name.`,
      );
    } else if (compensations.has(c.step)) {
      problems.push(
        `${cls}.${compensations.get(c.step)!.method} and ${cls}.${c.method} both compensate '${c.step}': keep one.`,
      );
    } else compensations.set(c.step, c);
  }
  const replies = new Map<string, ReplyHandlerMetadata>();
  for (const r of replyMeta) {
    const step = sorted.find((s) => s.method === r.step);
    if (!step)
      problems.push(
        `${cls}.${r.method} is @OnReply('${r.step}') but ${cls} has no step '${r.step}': use the step method's name.`,
      );
    else if (!step.options.participant) {
      problems.push(
        `${cls}.${r.method} is @OnReply('${r.step}') but '${r.step}' is a local step, which gets no reply: set ctx.data in the step itself, or give it a participant.`,
      );
    } else if (replies.has(r.step)) {
      problems.push(
        `${cls}.${replies.get(r.step)!.method} and ${cls}.${r.method} are both @OnReply('${r.step}'): keep one.`,
      );
    } else replies.set(r.step, r);
  }

  const steps: StepDefinition[] = sorted.map((s, index) => {
    const comp = compensations.get(s.method);
    const afterPivot = index > pivotIndex;
    const where = `${cls}.${s.method}`;
    if (index < pivotIndex && !comp) {
      problems.push(
        `${where} runs before the pivot step '${sorted[pivotIndex].method}' but has no compensation: ` +
          `add a method decorated with @Compensation('${s.method}'), or mark an earlier step as the pivot.`,
      );
    }
    if (index >= pivotIndex && comp) {
      problems.push(
        `${cls}.${comp.method} compensates '${s.method}', which is ${index === pivotIndex ? 'the pivot' : 'after the pivot'}: ` +
          `such steps are retried until they succeed and never compensated. Remove the @Compensation, or move the pivot.`,
      );
    }
    if (s.options.timeoutMs !== undefined && !s.options.participant) {
      problems.push(`${where}: 'timeoutMs' applies to remote steps only (it has no participant).`);
    }
    const target: ActionTarget = s.options.participant
      ? {
          kind: 'remote',
          participant: s.options.participant,
          command: s.options.command ?? upperFirst(s.method),
        }
      : { kind: 'local' };
    if (afterPivot && s.options.retry?.attempts !== undefined) {
      problems.push(
        `${where} is after the pivot: it is retried until it succeeds, so 'retry.attempts' does not apply. ` +
          `Remove it (the delays still do), or move the pivot.`,
      );
    }
    const retry = policy(
      afterPivot ? DEFAULT_AFTER_PIVOT_RETRY : DEFAULT_STEP_RETRY,
      s.options.retry,
      where,
      problems,
    );
    let compensation: CompensationDefinition | undefined;
    if (comp && index < pivotIndex) {
      const participant = comp.options.participant ?? s.options.participant;
      if (comp.options.timeoutMs !== undefined && !comp.options.command) {
        problems.push(
          `${cls}.${comp.method}: 'timeoutMs' applies to remote compensations only (it sends no command).`,
        );
      }
      if (comp.options.command && !participant) {
        problems.push(
          `${cls}.${comp.method} sends '${comp.options.command}' but '${s.method}' is local: add { participant: '<name>' }.`,
        );
      }
      compensation = {
        method: comp.method,
        target:
          comp.options.command && participant
            ? { kind: 'remote', participant, command: comp.options.command }
            : { kind: 'local' },
        retry: policy(DEFAULT_COMPENSATION_RETRY, comp.options.retry, `${cls}.${comp.method}`, problems),
        timeoutMs: comp.options.timeoutMs,
      };
    }
    return {
      name: s.method,
      index,
      method: s.method,
      target,
      onReply: replies.get(s.method)?.method,
      compensation,
      pivot: index === pivotIndex,
      afterPivot,
      retry,
      timeoutMs: s.options.timeoutMs,
      isBusinessError: classifier(s.options.businessErrors),
    };
  });

  if (options.deadlineMs !== undefined && !(options.deadlineMs > 0)) {
    problems.push(`${cls}: 'deadlineMs' must be a positive number of milliseconds.`);
  }
  if (options.sideEffects !== undefined && typeof options.sideEffects !== 'boolean') {
    problems.push(`${cls}: 'sideEffects' must be true or false, got ${JSON.stringify(options.sideEffects)}.`);
  }
  if (problems.length > 0) {
    throw new SagaDefinitionError(`Invalid saga ${cls}:\n  - ${problems.join('\n  - ')}`);
  }
  return Object.freeze({
    name: options.name,
    version: options.version ?? 1,
    target,
    dataClass: options.data,
    steps: Object.freeze(steps.map((s) => Object.freeze(s))),
    pivotIndex,
    deadlineMs: options.deadlineMs,
    sideEffects: options.sideEffects ?? true,
  });
}

/** Builds the classifier of business errors: `StepFailure` always, plus the declared classes or predicate. */
export function classifier(businessErrors: BusinessErrors | undefined): ErrorClassifier {
  if (typeof businessErrors === 'function') {
    const predicate = businessErrors;
    return (error) => error instanceof StepFailure || predicate(error);
  }
  const classes = businessErrors ?? [];
  return (error) => error instanceof StepFailure || classes.some((c) => error instanceof c);
}

function policy(
  defaults: RetryPolicy,
  override: Partial<RetryPolicy> | undefined,
  where: string,
  problems: string[],
): RetryPolicy {
  const merged = { ...defaults, ...override };
  if (!(merged.attempts >= 1))
    problems.push(`${where}: retry.attempts must be at least 1 (the first attempt counts).`);
  if (!(merged.initialDelayMs >= 0) || !(merged.maxDelayMs >= 0)) {
    problems.push(`${where}: retry delays must be zero or more milliseconds.`);
  }
  if (!(merged.factor >= 1)) problems.push(`${where}: retry.factor must be at least 1.`);
  if (!(merged.jitter >= 0 && merged.jitter <= 1))
    problems.push(`${where}: retry.jitter must be between 0 and 1.`);
  return Object.freeze(merged);
}

function stepMetaCount(meta: StepMetadata[], method: string): number {
  return meta.filter((m) => m.method === method).length;
}

function upperFirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
