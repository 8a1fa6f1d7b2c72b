/**
 * Prefix arithmetic the rule model refuses with (common/address-prefix.ts):
 * prefixCoveredBy says whether several prefixes together hold every
 * address of one, by halves, in both families; a cover that leaves one
 * address out, or one of the other family, does not.
 */
import t from 'tap';
import { prefixCoveredBy } from '../../common/address-prefix.js';

t.test('prefixCoveredBy: together, by halves, both families', async (t) => {
  const cases: Array<[string, string[], boolean, string]> = [
    ['10.0.0.0/23', ['10.0.0.0/24', '10.0.1.0/24'], true, 'two halves'],
    ['10.0.0.0/23', ['10.0.0.0/24'], false, 'one half'],
    ['10.1.2.0/24', ['10.0.0.0/8'], true, 'one wider prefix'],
    ['0.0.0.0/0', ['0.0.0.0/1', '128.0.0.0/1'], true, 'every IPv4 address, in two'],
    ['0.0.0.0/0', ['0.0.0.0/1', '128.0.0.0/2'], false, 'a quarter left'],
    ['10.1.2.3', ['10.1.2.3'], true, 'one address'],
    ['10.1.2.3', ['10.1.2.4'], false, 'another address'],
    ['10.0.0.0/8', ['10.0.0.1'], false, 'one address of many'],
    ['10.0.0.0/30', ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3'], true, 'every address one by one'],
    ['10.0.0.0/30', ['10.0.0.0', '10.0.0.1', '10.0.0.3'], false, 'one address missing'],
    ['::/0', ['::/1', '8000::/1'], true, 'every IPv6 address, in two'],
    ['2001:db8::/32', ['2001:db8::/33', '2001:db8:8000::/34', '2001:db8:c000::/34'], true, 'three pieces'],
    ['2001:db8::/32', ['2001:db8::/33', '2001:db8:8000::/34'], false, 'a piece missing'],
    ['10.0.0.0/8', ['::/0'], false, 'the other family covers nothing'],
  ];
  for (const [prefix, covers, want, what] of cases) t.equal(prefixCoveredBy(prefix, covers), want, `${prefix} by ${covers.join(',')}: ${what}`);
});
