import { createRng } from '@edgenas/search-space';
import { createRandom } from './random';

describe('createRandom', () => {
  it('keeps its seeded sequences (seeded datasets, splits and initial weights depend on them)', () => {
    const r = createRandom(0);
    const s = createRandom(42);
    expect([r.next(), r.next(), r.int(1000), s.next(), s.int(1000), s.normal()]).toEqual([
      0.3588899802416563, 0.10590326134115458, 675, 0.6011037519201636, 448, -0.9453528099747296,
    ]);
  });

  it('draws the same stream as search-space for non-zero seeds (one PRNG)', () => {
    const a = createRandom(7);
    const b = createRng(7);
    for (let i = 0; i < 100; i++) expect(a.next()).toBe(b.next());
  });
});
