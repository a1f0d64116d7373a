import { InvalidArgumentError } from 'commander';

/** A commander option parser for an integer in [min, max]; anything else is refused naming the range. */
export function int(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer in ${min}–${max}`);
    return n;
  };
}
