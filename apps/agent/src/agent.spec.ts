import { spaceSignatures } from '@edgenas/latency-predictor';
import { PROXY_28, signatureKey, withGeometry } from '@edgenas/search-space';
import { groupBySpace } from './agent';

describe('groupBySpace', () => {
  const small = withGeometry(PROXY_28, { input: { height: 16, width: 16, channels: 1 }, classes: 4 });
  const proxy = spaceSignatures(PROXY_28);
  const other = spaceSignatures(small);

  it("groups missing signatures by the agent's spaces in order, the rest (job geometries) last", () => {
    const missing = [...other.slice(0, 3), ...proxy.slice(0, 5)];
    const groups = groupBySpace(missing, [PROXY_28]);
    expect(groups.map((g) => g.map(signatureKey))).toEqual([
      proxy.slice(0, 5).map(signatureKey),
      other.slice(0, 3).map(signatureKey),
    ]);
    expect(groupBySpace(missing, [small, PROXY_28]).map((g) => g.length)).toEqual([3, 5]);
  });

  it('has no empty groups', () => {
    expect(groupBySpace([], [PROXY_28])).toEqual([]);
  });
});
