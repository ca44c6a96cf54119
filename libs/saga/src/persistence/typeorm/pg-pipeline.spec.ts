import { PgTransactionPipeline } from './pg-pipeline';
import { RepeatedStatements } from './repeated-statements';

/** A stand-in for `pg`'s Client: records what is sent, and whether the socket was corked meanwhile. */
class FakeClient {
  pipeline = false;
  sent: { what: unknown; corked: boolean }[] = [];
  private corks = 0;
  connection = { stream: { cork: () => void this.corks++, uncork: () => void this.corks-- } };
  answers = new Map<string, { command: string; rows: unknown[]; rowCount: number | null }>();
  /** Rejects the next query with this error. */
  failNext?: Error;

  query(config: unknown, values?: unknown, callback?: unknown): unknown {
    this.sent.push({ what: config, corked: this.corks > 0 });
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) return Promise.reject(failure);
    if (typeof callback === 'function' || typeof (config as { submit?: unknown })?.submit === 'function') {
      return config;
    }
    const text = typeof config === 'string' ? config : 'object';
    const command = text.split(' ')[0];
    return Promise.resolve(this.answers.get(text) ?? { command, rows: [], rowCount: 0 });
  }
}

describe('PgTransactionPipeline', () => {
  it('attaches only to a pg client with a pipeline mode, and detaching restores the client', () => {
    expect(PgTransactionPipeline.attach({ query: () => undefined })).toBeUndefined();
    const client = new FakeClient();
    const pipeline = PgTransactionPipeline.attach(client)!;
    expect(client.pipeline).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(client, 'query')).toBe(true);
    expect(PgTransactionPipeline.attach(client)).toBeUndefined(); // already wrapped
    pipeline.detach();
    expect(client.pipeline).toBe(false);
    expect(Object.prototype.hasOwnProperty.call(client, 'query')).toBe(false);
  });

  it('holds BEGIN back, then writes it, the statement and an armed COMMIT in one corked write', async () => {
    const own = new FakeClient();
    const p = PgTransactionPipeline.attach(own)!;
    await own.query('START TRANSACTION');
    expect(own.sent).toEqual([]);
    expect(p.commitAfterNextStatement()).toBe(true);
    await own.query('INSERT 1', []);
    expect(own.sent).toEqual([
      { what: 'START TRANSACTION', corked: true },
      { what: 'INSERT 1', corked: true },
      { what: 'COMMIT', corked: true },
    ]);
    // TypeORM's own COMMIT gets the answer of the one already sent; nothing more is written.
    await expect(own.query('COMMIT')).resolves.toMatchObject({ command: 'COMMIT' });
    expect(own.sent).toHaveLength(3);
    expect(p.commitAfterNextStatement()).toBe(false);
  });

  it('reports a COMMIT answered with ROLLBACK as a failure', async () => {
    const client = new FakeClient();
    client.answers.set('COMMIT', { command: 'ROLLBACK', rows: [], rowCount: null });
    const pipeline = PgTransactionPipeline.attach(client)!;
    pipeline.commitAfterNextStatement();
    await client.query('UPDATE x', []);
    await expect(client.query('COMMIT')).rejects.toThrow(/rolled back/);
    await expect(client.query('ROLLBACK')).resolves.toMatchObject({ command: 'ROLLBACK' });
  });

  it('sends neither BEGIN nor COMMIT for a transaction without statements', async () => {
    const client = new FakeClient();
    PgTransactionPipeline.attach(client);
    await client.query('START TRANSACTION');
    await expect(client.query('COMMIT')).resolves.toMatchObject({ command: 'COMMIT' });
    expect(client.sent).toEqual([]);
  });

  it('sends a callback query or a custom one (a cursor) unpipelined, after the held BEGIN', () => {
    const client = new FakeClient();
    const pipeline = PgTransactionPipeline.attach(client)!;
    void client.query('START TRANSACTION');
    pipeline.commitAfterNextStatement();
    const cursor = { submit: () => null };
    client.query(cursor);
    expect(client.pipeline).toBe(false);
    expect(client.sent.map((s) => s.what)).toEqual(['START TRANSACTION', cursor]); // no COMMIT behind it
  });
  it('sends a parameterized statement by name from its second run on, and a failed stale one unnamed again', async () => {
    const repeated = new RepeatedStatements();
    const sql = 'UPDATE t SET v = $1';
    const own = new FakeClient();
    const runTwice = async (): Promise<void> => {
      for (let i = 0; i < 2; i++) {
        const p = PgTransactionPipeline.attach(own, repeated)!;
        await own.query('START TRANSACTION');
        await own.query(sql, [i]);
        await own.query('SELECT 1');
        await own.query('COMMIT');
        p.detach();
      }
    };
    await runTwice();
    const statements = own.sent.map((s) => s.what).filter((w) => w !== 'START TRANSACTION' && w !== 'COMMIT');
    expect(statements).toEqual([
      sql,
      'SELECT 1',
      { name: expect.stringMatching(/^saga_q_/), text: sql, values: [1] },
      'SELECT 1',
    ]);
    // Without RepeatedStatements, statements go as they came.
    own.sent = [];
    const plain = PgTransactionPipeline.attach(own)!;
    await own.query(sql, [2]);
    expect(own.sent.map((s) => s.what)).toEqual([sql]);
    plain.detach();
    // A prepared statement that went stale fails once; the next run sends it unnamed.
    own.sent = [];
    const stale = PgTransactionPipeline.attach(own, repeated)!;
    own.failNext = Object.assign(new Error('cached plan must not change result type'), { code: '0A000' });
    await expect(own.query(sql, [3])).rejects.toThrow('cached plan');
    expect(own.sent.map((s) => s.what)).toEqual([
      { name: expect.stringMatching(/^saga_q_/), text: sql, values: [3] },
    ]);
    stale.detach();
    own.sent = [];
    const again = PgTransactionPipeline.attach(own, repeated)!;
    await own.query(sql, [4]);
    expect(own.sent.map((s) => s.what)).toEqual([sql]);
    again.detach();
  });
});
