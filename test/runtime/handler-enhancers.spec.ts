import {
  Injectable,
  Logger,
  Scope,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { TestingModule } from '@nestjs/testing';
import { map, type Observable } from 'rxjs';
import { DataSource } from 'typeorm';
import { HandleCommand, InProcessTransport, SagaParticipant, type CommandContext } from 'nestjs-saga';
import { ParticipantRuntime } from '../../libs/saga/src/runtime/participant-runtime';
import type { SagaMessage } from '../../libs/saga/src/transport/message';
import { command } from '../rabbitmq/rabbitmq.helpers';
import { bootApp } from './transfer-saga.fixture';

@Injectable()
class Limits {
  max = 100;
}

/** What the enhancers saw, for the assertions. */
@Injectable()
class Seen {
  contexts: { type: string; data: unknown; sagaId: string; where: string }[] = [];
  withdrawals = 0;
}

/** A guard with a dependency of its own, reading the command RPC-style. */
@Injectable()
class AmountGuard implements CanActivate {
  constructor(
    private readonly limits: Limits,
    private readonly seen: Seen,
  ) {}
  canActivate(context: ExecutionContext): boolean {
    const rpc = context.switchToRpc();
    this.seen.contexts.push({
      type: context.getType(),
      data: rpc.getData(),
      sagaId: rpc.getContext<CommandContext>().sagaId,
      where: `${context.getClass().name}.${context.getHandler().name}`,
    });
    return rpc.getData<{ amount: number }>().amount <= this.limits.max;
  }
}

/** Adds a field to every reply: what the last `next.handle()` emits is the reply data. */
@Injectable()
class Stamp implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((reply) => ({ ...(reply as object), stamped: true })));
  }
}

/** Runs second (declared on the method, after the class's `Stamp`): sees the handler's own reply. */
@Injectable()
class Double implements NestInterceptor {
  async intercept(_context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    await Promise.resolve();
    return next.handle().pipe(map((reply) => ({ ...(reply as object), doubled: true })));
  }
}

/** The application's global guard, say an HTTP auth guard: not applied to command handlers. */
@Injectable()
class DenyAll implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@SagaParticipant('vault')
@UseInterceptors(Stamp)
class VaultParticipant {
  constructor(private readonly seen: Seen) {}

  @HandleCommand('Withdraw')
  @UseGuards(AmountGuard)
  @UseInterceptors(Double)
  withdraw(cmd: { amount: number }, ctx: CommandContext): object {
    this.seen.withdrawals++;
    return { withdrawn: cmd.amount, inTransaction: ctx.manager.queryRunner?.isTransactionActive ?? false };
  }

  @HandleCommand('Audit')
  audit(): object {
    return { audited: true };
  }
}

@SagaParticipant('plain')
class PlainParticipant {
  @HandleCommand('Ping')
  ping(): object {
    return { pong: true };
  }
}

function boot(providers: Provider[]): Promise<TestingModule> {
  const transport = new InProcessTransport();
  return bootApp(
    { type: 'better-sqlite3', database: ':memory:' },
    { service: 'vault-app', transport, consume: false },
    providers,
  );
}

describe('guards and interceptors on command handlers', () => {
  let moduleRef: TestingModule;
  let runtime: ParticipantRuntime;
  let seen: Seen;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    moduleRef = await boot([
      VaultParticipant,
      PlainParticipant,
      Limits,
      Seen,
      { provide: APP_GUARD, useClass: DenyAll },
    ]);
    runtime = moduleRef.get(ParticipantRuntime);
    seen = moduleRef.get(Seen);
  });

  afterAll(async () => {
    await moduleRef?.close();
  });

  /** Hands `message` to its participant and returns the reply it committed. */
  async function replyTo(participant: string, message: SagaMessage): Promise<SagaMessage> {
    expect(await runtime.handleCommands(participant, [{ message, redelivered: false }])).toEqual([
      { kind: 'ack' },
    ]);
    const rows = await moduleRef
      .get(DataSource)
      .query<{ body: string }[]>(`SELECT body FROM saga_outbox WHERE body LIKE ?`, [`%${message.sagaId}%`]);
    expect(rows).toHaveLength(1);
    return JSON.parse(rows[0].body) as SagaMessage;
  }

  it('runs the guard with a saga execution context, then the interceptors around the handler', async () => {
    const cmd = command('vault', { type: 'Withdraw', payload: { amount: 40 } });
    const reply = await replyTo('vault', cmd);
    expect(reply.outcome).toBe('success');
    // Stamp (class) is outermost, Double (method) inside it; the handler ran in the command's transaction.
    expect(reply.payload).toEqual({ withdrawn: 40, inTransaction: true, doubled: true, stamped: true });
    expect(seen.contexts.at(-1)).toEqual({
      type: 'saga',
      data: { amount: 40 },
      sagaId: cmd.sagaId,
      where: 'VaultParticipant.withdraw',
    });
  });

  it('fails the command as a business failure when a guard refuses it, without running the handler', async () => {
    const before = seen.withdrawals;
    const reply = await replyTo('vault', command('vault', { type: 'Withdraw', payload: { amount: 500 } }));
    expect(reply.outcome).toBe('failure');
    expect(reply.failure).toMatchObject({
      name: 'StepFailure',
      message: 'VaultParticipant.withdraw: refused by the guard AmountGuard',
      transient: false,
    });
    expect(seen.withdrawals).toBe(before);
  });

  it("applies the class's interceptors to every handler, and the application's global guards to none", async () => {
    const audit = await replyTo('vault', command('vault', { type: 'Audit', payload: {} }));
    expect(audit.payload).toEqual({ audited: true, stamped: true });
    const ping = await replyTo('plain', command('plain', { type: 'Ping', payload: {} }));
    expect(ping).toMatchObject({ outcome: 'success', payload: { pong: true } });
  });

  it('refuses to boot with a request-scoped guard, and says why', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class ScopedGuard implements CanActivate {
      canActivate(): boolean {
        return true;
      }
    }
    @SagaParticipant('scoped')
    class ScopedParticipant {
      @HandleCommand('Do')
      @UseGuards(ScopedGuard)
      do(): object {
        return {};
      }
    }
    await expect(boot([ScopedParticipant])).rejects.toThrow(
      /ScopedParticipant is request-scoped .*request-scoped guard or interceptor.*must be singletons/,
    );
  });
});
