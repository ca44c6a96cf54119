/**
 * Fewer round trips for a PostgreSQL transaction, through `pg`'s pipeline mode (node-postgres ≥ 8.19, "Pipelining"
 * in its documentation: a query is written to the server without waiting for the answer to the one before it).
 *
 * - **BEGIN goes out with the first statement.** TypeORM's `START TRANSACTION` is held back and written in the same
 *   socket write as the transaction's first statement; the server answers both in order. A transaction that ran no
 *   statement sends neither BEGIN nor COMMIT.
 * - **COMMIT goes out with the last statement**, when the caller says which one is last (`commitAfterNextStatement`):
 *   the saga write set is the last statement of the library's transactions. If that statement fails, the server
 *   has aborted the transaction and answers the COMMIT with ROLLBACK: nothing is committed. The statement must
 *   therefore fail (not just return fewer rows) whenever committing would be wrong — the write set raises on a stale
 *   saga version for this reason (see `pg-write-set.ts`). TypeORM's own `commitTransaction` then gets the answer of
 *   the COMMIT already sent (its subscribers' `beforeTransactionCommit` runs after it was sent).
 *
 * - **Repeated statements go by name** (with `RepeatedStatements`): a parameterized statement of the transaction —
 *   the handlers' and steps' TypeORM queries included — is sent as a named statement from its second run on, so
 *   PostgreSQL parses and plans it once per connection instead of every time.
 *
 * Each statement keeps its own Sync, so the server's answers and errors stay per statement. The cost of a round trip
 * on a loaded machine is mostly the two processes' wake-ups and system calls, so this saves CPU as well as latency.
 * Attached to a pooled client for one transaction and detached before the client goes back to the pool.
 */

import type { RepeatedStatements } from './repeated-statements';

/** The slice of `pg`'s Client this relies on (`pipeline` is its public config flag, settable per client). */
interface PgClient {
  pipeline?: boolean;
  query(...args: unknown[]): unknown;
  connection?: { stream?: { cork?: () => void; uncork?: () => void } };
}

/** What `pg` resolves a query with (the fields TypeORM reads). */
interface PgResult {
  command: string;
  rowCount: number | null;
  rows: unknown[];
}

const BEGIN = 'START TRANSACTION';

function result(command: string): PgResult {
  return { command, rowCount: null, rows: [] };
}

/**
 * The answer to a COMMIT, or an error if the server rolled back instead: a COMMIT after a failed statement (one the
 * caller caught) is answered with ROLLBACK, not an error — without this check the caller would think it committed.
 */
function committed(answer: PgResult): PgResult {
  if (answer.command !== 'COMMIT') {
    throw new Error('The transaction was rolled back: a statement before its COMMIT failed.');
  }
  return answer;
}

export class PgTransactionPipeline {
  /** TypeORM asked for BEGIN: it goes out with the next statement. */
  private beginHeld = false;
  private begun = false;
  private commitArmed = false;
  /** The COMMIT written after the last statement (set: the transaction is over). */
  private commit?: Promise<PgResult>;
  private readonly send: (...args: unknown[]) => unknown;
  private readonly pipelinedBefore: boolean;

  /**
   * Attaches to `client` (a `pg` Client of the pool), or returns undefined when its `pg` has no pipeline mode.
   * @param repeated names for the statements run again and again (none: every statement goes as the caller sent it)
   */
  static attach(client: unknown, repeated?: RepeatedStatements): PgTransactionPipeline | undefined {
    const c = client as PgClient;
    if (typeof c?.pipeline !== 'boolean' || typeof c.query !== 'function') return undefined;
    if (Object.prototype.hasOwnProperty.call(c, 'query')) return undefined; // already wrapped by someone
    return new PgTransactionPipeline(c, repeated);
  }

  private constructor(
    private readonly client: PgClient,
    private readonly repeated?: RepeatedStatements,
  ) {
    this.send = client.query.bind(client);
    this.pipelinedBefore = client.pipeline === true;
    client.pipeline = true;
    client.query = (config: unknown, values?: unknown, callback?: unknown) =>
      this.query(config, values, callback);
  }

  /** Gives the client back its own `query` and pipeline setting (call before it returns to the pool). */
  detach(): void {
    delete (this.client as Partial<PgClient>).query;
    this.client.pipeline = this.pipelinedBefore;
  }

  /**
   * The next statement written is the transaction's last: COMMIT is written right behind it. Returns false (and
   * arms nothing) when the transaction is already over.
   */
  commitAfterNextStatement(): boolean {
    if (this.commit) return false;
    this.commitArmed = true;
    return true;
  }

  private query(config: unknown, values?: unknown, callback?: unknown): unknown {
    const text = typeof config === 'string' ? config : undefined;
    if (this.commit) return this.afterCommit(config);
    if (text === BEGIN && !this.begun && !this.beginHeld) {
      this.beginHeld = true;
      return Promise.resolve(result('BEGIN'));
    }
    if (this.beginHeld && (text === 'COMMIT' || text === 'ROLLBACK')) {
      // Nothing ran: there is nothing to commit or roll back, and BEGIN need not be sent at all.
      this.beginHeld = false;
      return Promise.resolve(result(text));
    }
    if (this.commitArmed && (text === 'COMMIT' || text === 'ROLLBACK')) this.commitArmed = false;
    const promiseForm = typeof callback !== 'function' && typeof values !== 'function';
    const custom = typeof (config as { submit?: unknown })?.submit === 'function';
    if (!promiseForm || custom) {
      // A callback or a custom query (a cursor, a stream): `pg` refuses the latter in pipeline mode. Sent on its
      // own, after BEGIN if held; the rest of this transaction is not pipelined.
      this.client.pipeline = false;
      this.commitArmed = false;
      if (this.beginHeld) void this.sendBegin();
      return this.send(config, values, callback);
    }
    if (text === 'COMMIT') return (this.send(text) as Promise<PgResult>).then(committed);
    const stream = this.client.connection?.stream;
    stream?.cork?.();
    try {
      const begin = this.beginHeld ? this.sendBegin() : undefined;
      const answer = this.sendStatement(config, values);
      if (this.commitArmed) {
        this.commitArmed = false;
        this.commit = this.send('COMMIT') as Promise<PgResult>;
        this.commit.catch(() => undefined); // awaited by TypeORM's commitTransaction (or rollbackTransaction)
      }
      if (!begin) return answer;
      // BEGIN failing while the statement behind it succeeds would mean the statement ran outside a transaction;
      // BEGIN on an idle connection cannot fail short of the connection failing, which fails both.
      return begin.then(
        () => answer,
        (error: unknown) => {
          answer.catch(() => undefined);
          throw error;
        },
      );
    } finally {
      stream?.uncork?.();
    }
  }

  /** Sends a statement, by name when it is a parameterized one run often enough (see `RepeatedStatements`). */
  private sendStatement(config: unknown, values: unknown): Promise<PgResult> {
    const repeated = this.repeated;
    const name =
      repeated && typeof config === 'string' && Array.isArray(values)
        ? repeated.nameFor(config, values.length)
        : undefined;
    if (name === undefined) return this.send(config, values) as Promise<PgResult>;
    const answer = this.send({ name, text: config, values }) as Promise<PgResult>;
    answer.catch((error: unknown) => repeated!.failed(config as string, error));
    return answer;
  }

  private sendBegin(): Promise<PgResult> {
    this.beginHeld = false;
    this.begun = true;
    const begin = this.send(BEGIN) as Promise<PgResult>;
    begin.catch(() => undefined);
    return begin;
  }

  /** After the COMMIT went out with the last statement: TypeORM's COMMIT gets its answer; ROLLBACK has nothing to do. */
  private afterCommit(config: unknown): Promise<PgResult> {
    const commit = this.commit!;
    const text = typeof config === 'string' ? config : (config as { text?: unknown })?.text;
    if (text === 'COMMIT') return commit.then(committed);
    if (text === 'ROLLBACK') {
      // Only reached when the caller failed after its last statement succeeded: the transaction is committed.
      // Safe for the library's transactions — their outbox rows are swept and sent, and a redelivered message
      // finds its inbox row.
      return commit.then(
        () => result('ROLLBACK'),
        () => result('ROLLBACK'),
      );
    }
    return Promise.reject(
      new Error(`A statement after the transaction's last one (its COMMIT is sent): ${String(text)}`),
    );
  }
}
