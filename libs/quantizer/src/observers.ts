/**
 * What calibration learns about one activation tensor from the values it takes: its min/max, and a histogram
 * over that range from which a percentile range is read.
 */
import { ValueRange } from './params';

export class RangeObserver {
  min = Infinity;
  max = -Infinity;
  count = 0;

  observe(values: ArrayLike<number>): void {
    let { min, max } = this;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
    this.count += values.length;
  }

  range(): ValueRange {
    if (this.count === 0) throw new Error('no values observed');
    return { min: this.min, max: this.max };
  }
}

/** Equal-width histogram over a fixed range (the min/max of a first pass); values outside go to the end bins. */
export class HistogramObserver {
  readonly counts: Float64Array;
  private total = 0;

  constructor(
    readonly range: ValueRange,
    readonly bins: number,
  ) {
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram bins must be a positive integer`);
    if (!(range.max >= range.min)) throw new Error(`histogram range [${range.min}, ${range.max}] is empty`);
    this.counts = new Float64Array(bins);
  }

  private get width(): number {
    return (this.range.max - this.range.min) / this.bins;
  }

  observe(values: ArrayLike<number>): void {
    const { counts, bins } = this;
    const lo = this.range.min;
    const width = this.width;
    if (width === 0) {
      counts[0] += values.length;
    } else {
      const last = bins - 1;
      const inv = 1 / width;
      for (let i = 0; i < values.length; i++) {
        const b = Math.floor((values[i] - lo) * inv);
        counts[b < 0 ? 0 : b > last ? last : b]++;
      }
    }
    this.total += values.length;
  }

  /**
   * The range keeping `percentile` % of the values, the rest cut equally from both tails, rounded outwards to bin
   * edges (so it never cuts more than asked). 100 gives the observed range.
   */
  percentileRange(percentile: number): ValueRange {
    if (!(percentile > 0 && percentile <= 100))
      throw new Error(`percentile ${percentile} is not in (0, 100]`);
    if (this.total === 0) throw new Error('no values observed');
    if (this.width === 0) return this.range;
    const tail = ((100 - percentile) / 200) * this.total;
    let lowBin = 0;
    for (let cum = 0; lowBin < this.bins - 1; lowBin++) {
      cum += this.counts[lowBin];
      if (cum > tail) break;
    }
    let highBin = this.bins - 1;
    for (let cum = 0; highBin > 0; highBin--) {
      cum += this.counts[highBin];
      if (cum > tail) break;
    }
    return {
      min: this.range.min + lowBin * this.width,
      max: highBin === this.bins - 1 ? this.range.max : this.range.min + (highBin + 1) * this.width,
    };
  }
}
