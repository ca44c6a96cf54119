import { SagaError } from '../errors/saga.errors';
import { SagaRuntimeOptions } from './runtime-options';

describe('SagaRuntimeOptions', () => {
  it('takes database.preparedStatements as true, false or library, and refuses anything else', () => {
    for (const preparedStatements of [undefined, true, false, 'library' as const]) {
      expect(() => new SagaRuntimeOptions({ service: 's', database: { preparedStatements } })).not.toThrow();
    }
    const bad = { service: 's', database: { preparedStatements: 'yes' as unknown as boolean } };
    expect(() => new SagaRuntimeOptions(bad)).toThrow(SagaError);
    expect(() => new SagaRuntimeOptions(bad)).toThrow(
      `'database.preparedStatements' must be true, false or 'library', got "yes"`,
    );
  });

  it('resolves what is prepared: everything by default, the library only, or nothing', () => {
    const resolved = (preparedStatements?: boolean | 'library') =>
      new SagaRuntimeOptions({ service: 's', database: { preparedStatements, pipelining: false } }).database;
    const common = { pipelining: false, implicitJoin: true };
    expect(resolved()).toEqual({ ...common, prepareLibrary: true, prepareRepeated: true });
    expect(resolved(true)).toEqual({ ...common, prepareLibrary: true, prepareRepeated: true });
    expect(resolved('library')).toEqual({ ...common, prepareLibrary: true, prepareRepeated: false });
    expect(resolved(false)).toEqual({ ...common, prepareLibrary: false, prepareRepeated: false });
  });

  it('takes database.implicitJoin as true (the default) or false, and refuses anything else', () => {
    const implicitJoin = (value?: unknown) =>
      new SagaRuntimeOptions({ service: 's', database: { implicitJoin: value as boolean } }).database
        .implicitJoin;
    expect(implicitJoin()).toBe(true);
    expect(implicitJoin(true)).toBe(true);
    expect(implicitJoin(false)).toBe(false);
    expect(() => implicitJoin('no')).toThrow(`'database.implicitJoin' must be true or false, got "no"`);
  });
});
