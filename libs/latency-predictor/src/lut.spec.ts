import {
  FBNET_224,
  FBNET_BLOCK_TYPES,
  PROXY_28,
  BlockSignature,
  parseSignatureKey,
  signatureKey,
} from '@edgenas/search-space';
import { aggregateMeasurements, buildLut, lutCoverage, missingSignatures, spaceSignatures } from './lut';
import { BlockMeasurement } from './measurement';

const SIG_A = parseSignatureKey('ir_k3_e3:s1:c24-24:56x56:relu');
const SIG_B = parseSignatureKey('ir_k5_e6:s2:c24-32:56x56:relu');

let nextId = 0;
function row(
  signature: BlockSignature,
  estimateMs: number,
  extra: Partial<
    Pick<BlockMeasurement, 'overheadMs' | 'driftFlagged' | 'p10Ms' | 'p90Ms' | 'measuredAt'>
  > = {},
): BlockMeasurement {
  return {
    id: `m${nextId++}`,
    signature,
    estimateMs,
    medianMs: estimateMs * 1.05,
    p10Ms: extra.p10Ms ?? estimateMs,
    p90Ms: extra.p90Ms ?? estimateMs * 1.2,
    rounds: 5,
    repeatsPerRound: 20,
    warmupRuns: 10,
    overheadMs: extra.overheadMs ?? 0.1,
    agentVersion: 'test',
    measuredAt: extra.measuredAt ?? '2026-01-01T00:00:00.000Z',
    driftFlagged: extra.driftFlagged ?? false,
  };
}

describe('aggregateMeasurements', () => {
  it('groups rows by signature key and takes the median estimate of each', () => {
    const entries = aggregateMeasurements([
      row(SIG_A, 1),
      row(SIG_B, 7),
      row(SIG_A, 3),
      row(SIG_A, 2),
      row(SIG_B, 5),
    ]);
    expect(entries.map((e) => e.key)).toEqual([signatureKey(SIG_A), signatureKey(SIG_B)]);
    expect(entries[0].estimateMs).toBe(2);
    expect(entries[0].count).toBe(3);
    expect(entries[1].estimateMs).toBe(6); // even count: mean of the two middle values
  });

  it('rejects by the MAD rule at modified z 3.5: 15.1 kept, 15.3 rejected around 9, 10, 10, 11', () => {
    // median 10, MAD 1 → band 10 ± 3.5 · 1.4826 = ±5.19
    const kept = aggregateMeasurements([9, 10, 10, 11, 15.1].map((v) => row(SIG_A, v)))[0];
    expect(kept.rejected).toBe(0);
    expect(kept.used).toBe(5);
    const rejected = aggregateMeasurements([9, 10, 10, 11, 15.3].map((v) => row(SIG_A, v)))[0];
    expect(rejected.rejected).toBe(1);
    expect(rejected.used).toBe(4);
    expect(rejected.estimateMs).toBe(10);
  });

  it('uses a MAD floor of 2 % of the median so identical majorities do not reject near values', () => {
    // MAD 0 → floor 0.2 → band ±1.04 around 10
    const e = aggregateMeasurements([10, 10, 10, 10.9, 11.2].map((v) => row(SIG_A, v)))[0];
    expect(e.rejected).toBe(1);
    expect(e.used).toBe(4);
  });

  it('never rejects with only two rows', () => {
    const e = aggregateMeasurements([row(SIG_A, 1), row(SIG_A, 100)])[0];
    expect(e.rejected).toBe(0);
    expect(e.estimateMs).toBe(50.5);
  });

  it('excludes drift-flagged rows when two clean rows exist, else down-weights them', () => {
    const excluded = aggregateMeasurements([
      row(SIG_A, 2),
      row(SIG_A, 4),
      row(SIG_A, 50, { driftFlagged: true }),
      row(SIG_A, 60, { driftFlagged: true }),
    ])[0];
    expect(excluded.driftExcluded).toBe(2);
    expect(excluded.used).toBe(2);
    expect(excluded.estimateMs).toBe(3);
    expect(excluded.driftFlagged).toBe(false);

    // one clean row at weight 1, one flagged at 0.5: the weighted median is the clean value
    const kept = aggregateMeasurements([row(SIG_A, 9, { driftFlagged: true }), row(SIG_A, 3)])[0];
    expect(kept.driftExcluded).toBe(0);
    expect(kept.estimateMs).toBe(3);
    expect(kept.driftFlagged).toBe(true);
  });

  it('never uses rows with a non-finite or non-positive estimate; a key with only such rows stays missing', () => {
    const e = aggregateMeasurements([row(SIG_A, 2), row(SIG_A, Number.NaN), row(SIG_A, -1), row(SIG_B, 0)]);
    expect(e.map((x) => x.key)).toEqual([signatureKey(SIG_A)]);
    expect(e[0]).toMatchObject({ estimateMs: 2, count: 3, used: 1, rejected: 2 });
  });

  it('keeps the median overhead of used rows, a spread, and the latest measurement time', () => {
    const e = aggregateMeasurements([
      row(SIG_A, 10, { overheadMs: 0.3, measuredAt: '2026-01-02T00:00:00.000Z' }),
      row(SIG_A, 11, { overheadMs: 0.1, measuredAt: '2026-01-03T00:00:00.000Z' }),
      row(SIG_A, 12, { overheadMs: 0.2 }),
      row(SIG_A, 1000, { overheadMs: 50 }), // outlier: its overhead must not count
    ])[0];
    expect(e.rejected).toBe(1);
    expect(e.overheadMs).toBeCloseTo(0.2, 12);
    expect(e.spreadMs).toBeCloseTo(1.4826, 6); // MAD of 10, 11, 12 is 1
    expect(e.lastMeasuredAt).toBe('2026-01-03T00:00:00.000Z');

    const single = aggregateMeasurements([row(SIG_B, 5, { p10Ms: 4, p90Ms: 6.5631 })])[0];
    expect(single.spreadMs).toBeCloseTo(1, 4);
  });
});

describe('LUT coverage and missing signatures', () => {
  it('buildLut keys entries by signature key; coverage counts distinct signatures', () => {
    const lut = buildLut([row(SIG_A, 1), row(SIG_A, 2)]);
    expect(Object.keys(lut)).toEqual([signatureKey(SIG_A)]);
    const cov = lutCoverage(lut, [SIG_A, SIG_B, SIG_B]);
    expect(cov).toEqual({ covered: 1, total: 2, ratio: 0.5, missing: [SIG_B] });
    expect(lutCoverage(lut, []).ratio).toBe(1);
  });

  it('spaceSignatures enumerates every block choice per layer position, plus stem and head', () => {
    // fbnet-224 has 12 distinct layer positions (stage 0 and 6 one each, stages 1–5 two each) × 8 non-skip blocks
    const fbnet = spaceSignatures(FBNET_224, FBNET_BLOCK_TYPES);
    expect(fbnet).toHaveLength(12 * 8 + 2);
    const keys = fbnet.map(signatureKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain('stem_k3:s2:c3-16:224x224:relu');
    expect(keys).toContain('head:s1:c352-1984:7x7:relu:n1000');
    expect(keys).toContain('ir_k5_e6:s2:c16-24:112x112:relu');
    expect(keys).toContain('ir_k3_e1_g2:s1:c24-24:56x56:relu');
    expect(keys.some((k) => k.startsWith('skip'))).toBe(false);
    // with the two ShuffleNetV2 units: 10 non-skip blocks per position
    expect(spaceSignatures(PROXY_28)).toHaveLength(12 * 10 + 2);
  });

  it('missingSignatures lists what a space or an architecture still lacks', () => {
    const all = spaceSignatures(PROXY_28, FBNET_BLOCK_TYPES);
    const lut = buildLut(all.slice(1).map((s) => row(s, 1)));
    expect(missingSignatures(lut, PROXY_28, FBNET_BLOCK_TYPES).map(signatureKey)).toEqual([
      signatureKey(all[0]),
    ]);
    expect(missingSignatures(lut, [PROXY_28, FBNET_224], FBNET_BLOCK_TYPES)).toHaveLength(1 + 98);
    const arch = { blocks: Array.from({ length: 22 }, () => 'ir_k3_e1' as const) };
    expect(missingSignatures(lut, { arch, config: PROXY_28 }).map((s) => s.op)).toEqual(['stem']);
  });
});
