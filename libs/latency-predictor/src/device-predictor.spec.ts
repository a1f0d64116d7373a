import { FBNET_224, PROXY_28, architectureId, parseArchitecture, stemSignature } from '@edgenas/search-space';
import { chooseCalibrationSet } from './calibration-set';
import { ArchitectureRow, DeviceRows } from './measurement';
import {
  buildDevicePredictor,
  calibrationPolicy,
  calibrationStaleness,
  calibrationWork,
} from './device-predictor';
import { buildLut } from './lut';
import { predictLatency } from './predict';
import { PROFILE, T0, archRow, at, blockRow, lutRows } from './test-rows.fixture';

const POLICY = calibrationPolicy(30 * 60_000); // refresh every 30 min, stale after 60
const BLOCKS = lutRows(PROXY_28);
const LUT = buildLut(BLOCKS);
const SET = chooseCalibrationSet(PROXY_28, LUT, { size: POLICY.calibrationSetSize, seed: POLICY.seed });

/** What this synthetic device measures end to end: 1.3 × the corrected sum + 0.05 ms, times `drift`. */
function measured(i: number, drift = 1): number {
  return drift * (1.3 * SET[i].predictedMs + 0.05);
}

/** The calibration set measured at T0 (its first `n` members). */
function setRows(n = SET.length, measuredAt = T0): ArchitectureRow[] {
  return SET.slice(0, n).map((m, i) =>
    archRow(PROXY_28, m.architecture, measured(i), { id: `c${i}`, measuredAt, purpose: 'calibration' }),
  );
}

function rowsOf(architectures: ArchitectureRow[], blocks = BLOCKS): DeviceRows {
  return { deviceId: 'dev', profile: PROFILE, blocks, architectures };
}

function build(architectures: ArchitectureRow[], now = at(1), blocks = BLOCKS) {
  return buildDevicePredictor(rowsOf(architectures, blocks), PROXY_28, {
    now: new Date(now),
    policy: POLICY,
  });
}

/** Reference re-measurements of the predictor's reference networks at `drift` × their set latency. */
function referenceRows(
  refs: readonly string[],
  drift: number,
  measuredAt: string,
  tag: string,
): ArchitectureRow[] {
  return refs.map((text, k) => {
    const arch = parseArchitecture(text, PROXY_28);
    const i = SET.findIndex((m) => architectureId(m.architecture) === architectureId(arch));
    return archRow(PROXY_28, arch, measured(i, drift), {
      id: `${tag}${k}`,
      measuredAt,
      purpose: 'reference',
    });
  });
}

const HELD_OUT = parseArchitecture(
  'ir_k3_e1/ir_k3_e3-skip-skip-skip/ir_k5_e6-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1-skip-skip-skip/ir_k3_e1',
  PROXY_28,
);
const predict = (p: ReturnType<typeof build>) =>
  predictLatency(HELD_OUT, PROXY_28, p.lut, p.calibration).latencyMs;
const truth = (drift = 1) => drift * (1.3 * predictLatency(HELD_OUT, PROXY_28, LUT).correctedSumMs + 0.05);

describe('buildDevicePredictor', () => {
  it('stays uncalibrated, saying why, with fewer than 3 end-to-end architectures', () => {
    const p = build(setRows(2));
    expect(p.calibration).toBeUndefined();
    expect(p.calibrationInfo).toBeUndefined();
    expect(p.calibrationNote).toMatch(/2 of 3 end-to-end measured architectures/);
  });

  it('calibrates on the calibration set and reports a version that only the rows decide', () => {
    const p = build(setRows());
    expect(p.calibrationInfo).toMatchObject({ samples: 20, fittedAt: T0, driftScale: 1, stale: false });
    expect(Math.abs(predict(p) / truth() - 1)).toBeLessThan(0.01);
    // same rows in another order, at another time: same versions, same prediction
    const again = build([...setRows()].reverse(), at(5), [...BLOCKS].reverse());
    expect(again.lutVersion).toBe(p.lutVersion);
    expect(again.calibrationInfo?.version).toBe(p.calibrationInfo?.version);
    expect(predict(again)).toBe(predict(p));
    // another row: another version
    const more = build([...setRows(), archRow(PROXY_28, HELD_OUT, truth(), { id: 'x' })]);
    expect(more.calibrationInfo?.version).not.toBe(p.calibrationInfo?.version);
  });

  it("versions the LUT by this geometry's rows only", () => {
    const other = blockRow(stemSignature(FBNET_224), 'fbnet-stem');
    expect(build(setRows(), at(1), [...BLOCKS, other]).lutVersion).toBe(build(setRows()).lutVersion);
    expect(build(setRows(), at(1), BLOCKS.slice(1)).lutVersion).not.toBe(build(setRows()).lutVersion);
  });

  it('leaves verification answers and reference re-measurements out of the fit', () => {
    const p = build(setRows());
    const verification = archRow(PROXY_28, HELD_OUT, 10 * truth(), { id: 'v', verificationId: 'req-1' });
    const withVerification = build([...setRows(), verification]);
    expect(withVerification.calibrationInfo?.samples).toBe(20);
    expect(predict(withVerification)).toBe(predict(p));
  });

  it('only skips architectures the LUT cannot price; a row that does not parse is an error', () => {
    const partial = BLOCKS.filter((b) => b.signature.op !== 'ir_k5_e6');
    const p = build(setRows(), at(1), partial);
    expect(p.calibrationArchitectures).toBeLessThan(20);
    const bad = { ...archRow(PROXY_28, HELD_OUT, 1, { id: 'bad' }), architecture: 'ir_k9_e9' };
    expect(() => build([...setRows(), bad])).toThrow(/ir_k9_e9/);
  });

  it('chooses 5 reference networks among the measured set, spread from the fastest to the slowest', () => {
    const p = build(setRows());
    expect(p.referenceNetworks).toHaveLength(5);
    const measuredOf = (text: string) =>
      measured(
        SET.findIndex((m) => architectureId(m.architecture) === architectureId(parseArchitecture(text))),
      );
    expect(measuredOf(p.referenceNetworks[0])).toBe(measured(0));
    expect(measuredOf(p.referenceNetworks[4])).toBe(measured(19));
  });
});

describe('refit on drift', () => {
  const base = build(setRows());

  it('scales the calibration by the reference networks: the device slowed by 20 %, so do predictions', () => {
    const refs = referenceRows(base.referenceNetworks, 1.2, at(40), 'r');
    const p = build([...setRows(), ...refs], at(41));
    expect(p.calibrationInfo).toMatchObject({ referenceSamples: 5, checkedAt: at(40), stale: false });
    expect(p.calibrationInfo?.driftScale).toBeCloseTo(1.2, 10);
    expect(Math.abs(predict(p) / truth(1.2) - 1)).toBeLessThan(0.01);
    expect(p.calibrationInfo?.version).not.toBe(base.calibrationInfo?.version);
  });

  it("uses each reference network's latest re-measurement, and is robust to one bad one", () => {
    const old = referenceRows(base.referenceNetworks, 1.5, at(40), 'old');
    const latest = referenceRows(base.referenceNetworks, 0.9, at(80), 'new');
    const outlier = { ...latest[2], estimateMs: latest[2].estimateMs * 3 };
    const p = build([...setRows(), ...old, ...latest.slice(0, 2), outlier, ...latest.slice(3)], at(81));
    expect(p.calibrationInfo?.driftScale).toBeCloseTo(0.9, 10);
    expect(p.calibrationInfo?.checkedAt).toBe(at(80));
  });

  it('keeps the base fit until at least 3 reference networks were re-measured', () => {
    const refs = referenceRows(base.referenceNetworks.slice(0, 2), 1.2, at(40), 'r');
    const p = build([...setRows(), ...refs], at(41));
    expect(p.calibrationInfo).toMatchObject({ driftScale: 1, referenceSamples: 0, checkedAt: T0 });
  });
});

describe('staleness', () => {
  it('calibrationStaleness: drift flagged after the last check, or a check older than staleAfterMs', () => {
    expect(calibrationStaleness(T0, null, new Date(at(59)), POLICY)).toEqual({
      stale: false,
      staleReason: null,
    });
    expect(calibrationStaleness(T0, null, new Date(at(61)), POLICY)).toEqual({
      stale: true,
      staleReason: expect.stringMatching(/61 min ago .*older than 60 min are stale/),
    });
    expect(calibrationStaleness(T0, at(5), new Date(at(6)), POLICY)).toEqual({
      stale: true,
      staleReason: expect.stringMatching(/flagged drift at .*, after the last end-to-end check/),
    });
    // a flag before the check does not count
    expect(calibrationStaleness(at(5), T0, new Date(at(6)), POLICY).stale).toBe(false);
  });

  it('a drift-flagged block row after the calibration makes it stale until the references are re-measured', () => {
    const flagged = { ...blockRow(stemSignature(FBNET_224), 'f', at(10)), driftFlagged: true };
    const stale = build(setRows(), at(11), [...BLOCKS, flagged]);
    expect(stale.calibrationInfo).toMatchObject({ stale: true, driftFlaggedAt: at(10) });
    const refs = referenceRows(stale.referenceNetworks, 1.1, at(12), 'r');
    const fresh = build([...setRows(), ...refs], at(13), [...BLOCKS, flagged]);
    expect(fresh.calibrationInfo).toMatchObject({ stale: false, driftFlaggedAt: null, checkedAt: at(12) });
  });

  it('predictions do not change with staleness, only the report does', () => {
    const fresh = build(setRows(), at(1));
    const old = build(setRows(), at(120));
    expect(old.calibrationInfo?.stale).toBe(true);
    expect(predict(old)).toBe(predict(fresh));
    expect(old.calibrationInfo?.version).toBe(fresh.calibrationInfo?.version);
  });
});

describe('calibrationWork', () => {
  const work = (architectures: ArchitectureRow[], now: string, blocks = BLOCKS) =>
    calibrationWork(build(architectures, now, blocks), new Date(now), POLICY);

  it('asks for nothing while the LUT cannot price the space', () => {
    expect(work([], at(1), BLOCKS.slice(1))).toEqual([]);
  });

  it('hands out the calibration set once the LUT is complete, and only its unmeasured members after that', () => {
    const all = work([], at(1));
    expect(all).toHaveLength(20);
    expect(all.every((w) => w.purpose === 'calibration' && w.space === PROXY_28.name)).toBe(true);
    const ids = (items: { architecture: string }[]) =>
      items.map((w) => architectureId(parseArchitecture(w.architecture, PROXY_28)));
    expect(ids(all)).toEqual(SET.map((m) => architectureId(m.architecture)));
    const rest = work(setRows(8), at(2));
    expect(ids(rest)).toEqual(ids(all).slice(8));
  });

  it('asks for the reference networks when the refresh interval passed or drift was flagged, else nothing', () => {
    const p = build(setRows());
    expect(work(setRows(), at(29))).toEqual([]);
    const due = work(setRows(), at(30));
    expect(due.map((w) => w.architecture)).toEqual(p.referenceNetworks);
    expect(due.every((w) => w.purpose === 'reference')).toBe(true);
    // a verification answered in a chunk the agent's drift monitor flagged
    const flagged = archRow(PROXY_28, HELD_OUT, 1, {
      id: 'drifted',
      measuredAt: at(5),
      verificationId: 'req-2',
      driftFlagged: true,
    });
    expect(work([...setRows(), flagged], at(6))).toHaveLength(5);
    // once re-measured, the references are not due again until the next interval
    const refs = referenceRows(p.referenceNetworks, 1, at(7), 'r');
    expect(work([...setRows(), flagged, ...refs], at(8))).toEqual([]);
    expect(work([...setRows(), flagged, ...refs], at(37))).toHaveLength(5);
  });
});
