import type { SagaInstanceRecord } from '../../libs/saga/src/persistence/saga-store';
import { instanceValues } from '../../libs/saga/src/persistence/typeorm/instance-rows';
import { SagaInstanceCache } from '../../libs/saga/src/runtime/saga-instance-cache';
import { instance } from '../persistence/fixtures';

/** A running saga `s1`, version 1; `overrides` replace record fields. */
function record(overrides: Partial<SagaInstanceRecord> = {}): SagaInstanceRecord {
  return instance({}, { id: 's1', data: { item: 'book' }, ...overrides });
}

describe('SagaInstanceCache', () => {
  it('remembers a saga as reading it back returns it, and forgets it once terminal', () => {
    const cache = new SagaInstanceCache();
    const at = new Date(5);
    cache.committed(record({ data: { item: 'book', at, gone: undefined } }));
    // JSON round trip, as the data column gives it back: a Date becomes its string, an undefined field goes.
    expect(cache.get('s1')?.data).toEqual({ item: 'book', at: at.toISOString() });
    expect(
      SagaInstanceCache.same(record({ data: { item: 'book', at: at.toISOString() } }), cache.get('s1')!),
    ).toBe(true);
    expect(SagaInstanceCache.same(record({ version: 2 }), cache.get('s1')!)).toBe(false);
    cache.committed(record({ version: 2, state: { ...record().state, status: 'COMPLETED' } }));
    expect(cache.get('s1')).toBeUndefined();
  });

  it('keeps a copy: changing the committed record afterwards does not change what it remembers', () => {
    const cache = new SagaInstanceCache();
    const committed = record();
    cache.committed(committed);
    committed.data.item = 'pen';
    expect(cache.get('s1')?.data).toEqual({ item: 'book' });
  });

  it("builds its copy from the JSON the store's write made: a transition's data is serialised once", () => {
    const cache = new SagaInstanceCache();
    const committed = record();
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const written = instanceValues(committed); // what the store binds for the saga's row
      cache.committed(committed);
      expect(stringify.mock.calls.filter(([value]) => value === committed.data)).toHaveLength(1);
      expect(written).toContain(JSON.stringify({ item: 'book' }));
      expect(cache.get('s1')?.data).toEqual({ item: 'book' });
    } finally {
      stringify.mockRestore();
    }
  });

  it('stops guessing while more than 4 of the last 32 guesses were wrong, trying again one time in 256', () => {
    const cache = new SagaInstanceCache();
    for (let i = 0; i < 4; i++) cache.guessed(false);
    expect(cache.worthGuessing()).toBe(true);
    cache.guessed(false);
    const answers = Array.from({ length: 256 }, () => cache.worthGuessing());
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(answers[255]).toBe(true);
    for (let i = 0; i < 28; i++) cache.guessed(true); // the five misses are pushed out of the last 32 one by one
    expect(cache.worthGuessing()).toBe(true);
  });
});
