import { uuidv7 } from './ids';

describe('uuidv7', () => {
  it('is a version-7 UUID (RFC 9562): 48 bits of milliseconds, version and variant bits set', () => {
    const at = Date.UTC(2026, 11, 2, 14, 30, 0, 123);
    const id = uuidv7(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts by the millisecond it was made in, as text (what a B-tree on a varchar key sees)', () => {
    const made = [5, 1, 4, 2, 3].map((ms) => ({ ms, id: uuidv7(1_700_000_000_000 + ms) }));
    const byTime = [...made].sort((a, b) => a.ms - b.ms).map((m) => m.id);
    expect(made.map((m) => m.id).sort()).toEqual(byTime);
  });

  it('keeps ids of the same millisecond apart by their random bits, across refills of its random pool', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
    expect(new Set(ids).size).toBe(5000);
    const randomHex = new Set(ids.map((id) => id.slice(15, 18) + id.slice(20)));
    expect(randomHex.size).toBe(5000);
  });
});
