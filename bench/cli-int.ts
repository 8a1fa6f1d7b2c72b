/**
 * The integer option parser every bench and demo command line shares
 * (commander calls it per option value): digits only, so "1e3", "-1" and
 * "12abc" are refused with what is expected instead of turning into NaN or
 * a silently rounded number.
 */
import { InvalidArgumentError } from 'commander';

/** A commander argument parser for a whole number in min..max (unbounded above by default). */
export function intOption(min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer ≥ ${min}` : `expected an integer ${min}..${max}`);
    }
    return n;
  };
}
