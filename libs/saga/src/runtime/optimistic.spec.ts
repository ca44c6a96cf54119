import { QueryFailedError } from 'typeorm';
import type { EntityManager } from 'typeorm';
import type { SagaTransactions } from '../persistence/typeorm/transactions';
import { abortsOptimisticRun, guessedWrong, runOptimistically } from './optimistic';

/** A stand-in for a transaction: `run` hands over a manager whose nested `transaction` (a savepoint) is counted. */
function fakeTransactions() {
  const stats = { transactions: 0, savepoints: 0 };
  const manager = {
    transaction: async <T>(work: (m: EntityManager) => Promise<T>) => {
      stats.savepoints++;
      return work(manager as unknown as EntityManager);
    },
  };
  const transactions = {
    run: async <T>(fn: (m: EntityManager) => Promise<T>) => {
      stats.transactions++;
      return fn(manager as unknown as EntityManager);
    },
    savepoint: <T>(m: EntityManager, work: (m: EntityManager) => Promise<T>) => m.transaction(work),
  } as unknown as SagaTransactions;
  return { transactions, stats };
}

describe('runOptimistically', () => {
  it('runs user code without savepoints when it succeeds', async () => {
    const { transactions, stats } = fakeTransactions();
    let calls = 0;
    const result = await runOptimistically(transactions, (m, isolation) =>
      isolation.run(m, 'a', async () => ++calls),
    );
    expect(result).toBe(1);
    expect(stats).toEqual({ transactions: 1, savepoints: 0 });
  });

  it('runs the transaction again with savepoints; code that failed by its own logic is not run again', async () => {
    const { transactions, stats } = fakeTransactions();
    const calls = { ok: 0, failing: 0 };
    const outcome = await runOptimistically(transactions, async (m, isolation) => {
      await isolation.run(m, 'ok', async () => calls.ok++);
      try {
        await isolation.run(m, 'failing', async () => {
          calls.failing++;
          throw new Error('declined');
        });
        return 'no error';
      } catch (error) {
        if (abortsOptimisticRun(error)) throw error;
        return (error as Error).message;
      }
    });
    expect(outcome).toBe('declined');
    expect(calls).toEqual({ ok: 2, failing: 1 });
    expect(stats).toEqual({ transactions: 2, savepoints: 1 });
  });

  it('runs code that failed with a database error again (the error said nothing about the code)', async () => {
    const { transactions } = fakeTransactions();
    let calls = 0;
    const result = await runOptimistically(transactions, (m, isolation) =>
      isolation.run(m, 'flaky', async () => {
        if (++calls === 1) throw new QueryFailedError('SELECT 1', [], new Error('terminating connection'));
        return 'ok';
      }),
    );
    expect(result).toBe('ok');
    expect(calls).toBe(2);
  });

  it('runs a transaction that guessed wrong again without guessing, and still without savepoints', async () => {
    const { transactions, stats } = fakeTransactions();
    const runs: boolean[] = [];
    const result = await runOptimistically(transactions, async (m, isolation) => {
      runs.push(isolation.mayGuess);
      await isolation.run(m, 'step', async () => undefined);
      if (isolation.mayGuess) throw guessedWrong('the saga changed');
      return 'applied';
    });
    expect(result).toBe('applied');
    expect(runs).toEqual([true, false]);
    expect(stats).toEqual({ transactions: 2, savepoints: 0 });
  });

  it('goes on to savepoints when user code fails in the run after a wrong guess', async () => {
    const { transactions, stats } = fakeTransactions();
    const modes: string[] = [];
    const result = await runOptimistically(transactions, async (m, isolation) => {
      modes.push(isolation.safe ? 'safe' : isolation.mayGuess ? 'guess' : 'optimistic');
      if (isolation.mayGuess) throw guessedWrong('a duplicate');
      try {
        return await isolation.run(m, 'failing', async () => {
          throw new Error('declined');
        });
      } catch (error) {
        if (abortsOptimisticRun(error)) throw error;
        return (error as Error).message;
      }
    });
    expect(result).toBe('declined');
    expect(modes).toEqual(['guess', 'optimistic', 'safe']);
    expect(stats.transactions).toBe(3);
  });
});
