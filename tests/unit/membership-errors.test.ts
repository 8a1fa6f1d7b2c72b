/**
 * What mcrd says when the kernel refuses a group join
 * (supervisor/net/membership-errors.ts): each errno with what to do, the
 * IPv6 EINVAL naming the interface's MTU (under 1280 the interface has no
 * IPv6 state) and disable_ipv6, the IPv4 one the group and multicast.
 */
import t from 'tap';
import { membershipError } from '../../supervisor/net/membership-errors.js';

t.test('each refusal says what to do', async (t) => {
  const e = (code: string, family: 4 | 6, source?: string) =>
    membershipError('in0', family === 6 ? 'ff1e::1' : '239.1.1.1', source, family, Object.assign(new Error(code), { code }));
  t.match(e('EINVAL', 6).message, /^EINVAL: ff1e::1 cannot be joined on in0: IPv6 needs an MTU of at least 1280 and IPv6 enabled .*disable_ipv6/);
  t.match(e('EINVAL', 4).message, /^EINVAL: 239\.1\.1\.1 cannot be joined on in0: check that it is a multicast group/);
  t.match(e('ENOBUFS', 4, '10.0.0.1').message, /^ENOBUFS: .*239\.1\.1\.1 from 10\.0\.0\.1.*raise net\.ipv4\.igmp_max_msf/);
  t.match(e('ENOBUFS', 6).message, /raise net\.ipv6\.mld_max_msf or net\.core\.optmem_max/);
  t.match(e('ENODEV', 4).message, /interface in0 is gone: .* joined again when it returns/);
  t.same({ ...e('ENOMEM', 4, '10.0.0.1'), message: '' }, { interface: 'in0', group: '239.1.1.1', source: '10.0.0.1', code: 'ENOMEM', message: '' });
});
