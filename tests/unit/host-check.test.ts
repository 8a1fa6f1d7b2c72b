/**
 * `mcrd --check-host` on made-up hosts (HostFacts fakes): each problem is
 * one failing finding naming the exact fix, a tuned host passes, and facts
 * that need no change (a veth without a ring) are info, not failures.
 */
import t from 'tap';
import { checkHost, failures, renderFindings, startWarnings } from '../../supervisor/host-check/run.js';
import { parseCpuMask, parseOffloads, parseRingSizes, vectorOfInterface, type HostFacts } from '../../supervisor/host-check/host-facts.js';
import { cpuMask } from '../../supervisor/host-check/checks-interface.js';

const ALL_CAPS = (1n << 41n) - 1n;

function host(over: Partial<HostFacts> = {}, sysctls: Record<string, string> = {}): HostFacts {
  const values: Record<string, string> = { 'net.core.rmem_max': '33554432', 'net.core.wmem_max': '4194304', 'net.core.netdev_max_backlog': '1000',
    'kernel.io_uring_disabled': '0', ...sysctls };
  return {
    sysctl: (k) => values[k], interfaceFlags: () => 0x1003, ringSizes: () => ({ rx: 4096, rxMax: 4096 }),
    offloads: () => new Map([['generic-receive-offload', true], ['rx-udp-gro-forwarding', false]]),
    rpsCpus: () => [], irqs: () => [{ irq: 40, cpus: [0] }, { irq: 41, cpus: [1] }], lowerDevices: () => [], capabilities: () => ALL_CAPS,
    memlockLimit: () => Infinity, rtprioLimit: () => 0, ioUring: () => ({ ok: true, missingOps: [], deferTaskrun: true, noIowait: true }), threadSlice: () => ({ ok: true }), threadFifo: () => ({ ok: true }),
    damon: () => ({ running: 0, reclaim: false, present: true }), ...over,
  };
}
const plan = { rules: [{ inputInterface: 'eth1', outputs: [{ interface: 'eth2', group: '239.1.1.1', port: 5000 }] }], workersPerInterface: 2, cpus: [0, 1], loop: {} };

t.test('a tuned host passes', async (t) => {
  const findings = checkHost(host(), plan);
  t.same(failures(findings), []);
  t.match(renderFindings(findings), /all \d+ checks pass\n$/);
});

t.test('each problem fails with its exact fix', async (t) => {
  const cases: Array<[string, HostFacts, RegExp, RegExp, typeof plan?]> = [
    ['wmem', host({}, { 'net.core.wmem_max': '212992' }), /wmem_max/, /^sysctl -w net\.core\.wmem_max=4194304/],
    ['rmem without CAP_NET_ADMIN', host({ capabilities: () => ALL_CAPS & ~(1n << 12n) }, { 'net.core.rmem_max': '212992' }), /rmem_max/, /^sysctl -w net\.core\.rmem_max=33554432, .*\/usr\/lib\/sysctl\.d\/60-mcr\.conf.*, or give mcrd CAP_NET_ADMIN$/],
    ['backlog', host({}, { 'net.core.netdev_max_backlog': '300' }), /netdev_max_backlog/, /^sysctl -w net\.core\.netdev_max_backlog=1000/],
    ['multicast off', host({ interfaceFlags: (n) => (n === 'eth2' ? 0x3 : 0x1003) }), /multicast flag/, /^ip link set eth2 multicast on$/],
    ['an input down', host({ interfaceFlags: (n) => (n === 'eth1' ? 0x1002 : 0x1003) }), /^up$/, /^ip link set eth1 up$/],
    ['an output down', host({ interfaceFlags: (n) => (n === 'eth2' ? 0x1002 : 0x1003) }), /^up$/, /^ip link set eth2 up$/],
    ['small ring', host({ ringSizes: () => ({ rx: 512, rxMax: 4096 }) }), /ring size/, /^ethtool -G eth1 rx 4096$/],
    ['UDP GRO forwarding', host({ offloads: () => new Map([['rx-udp-gro-forwarding', true], ['large-receive-offload', true]]) }), /receive offloads/, /^ethtool -K eth1 lro off rx-udp-gro-forwarding off$/],
    ['one IRQ core for two workers', host({ irqs: () => [{ irq: 40, cpus: [0] }] }), /receive placement/, /^echo 3 > \/sys\/class\/net\/eth1\/queues\/rx-0\/rps_cpus/],
    ['one IRQ whose mask allows both cores, for two workers', host({ irqs: () => [{ irq: 40, cpus: [0, 1] }] }), /receive placement/, /^echo 3 > /],
    ['io_uring disabled', host({ ioUring: () => ({ ok: false, code: 'EPERM', message: 'EPERM: io_uring_setup' }) }, { 'kernel.io_uring_disabled': '2' }), /io_uring/, /^sysctl -w kernel\.io_uring_disabled=0/],
    ['an explicit slice the kernel refuses', host({ threadSlice: () => ({ ok: false, code: 'EOPNOTSUPP', message: 'EOPNOTSUPP: sched_setattr the kernel kept its own slice' }) }),
      /loop scheduler slice/, /^--loop-slice-us auto .* or 0, or Linux 6\.12/, { ...plan, loop: { loopSliceUs: 500 } }],
    ['a real-time priority the kernel refuses', host({ threadFifo: () => ({ ok: false, code: 'EPERM', message: 'EPERM: pthread_setschedparam: Operation not permitted' }) }),
      /loop real-time priority/, /^LimitRTPRIO=10 with RestrictRealtime=no in the unit, ulimit -r 10, or --loop-rt-priority auto$/, { ...plan, loop: { loopRtPriority: 10 } }],
    ['memlock', host({ capabilities: () => 0n, memlockLimit: () => 65536, ioUring: () => ({ ok: false, code: 'ENOMEM', message: 'ENOMEM: io_uring_setup' }) }), /RLIMIT_MEMLOCK/, /LimitMEMLOCK=infinity/],
  ];
  for (const [what, facts, check, fix, casePlan] of cases) {
    const failed = failures(checkHost(facts, casePlan ?? plan));
    const hit = failed.find((f) => check.test(f.check));
    t.ok(hit, `${what}: reported`);
    t.match(hit?.fix, fix, `${what}: the fix`);
  }
});

t.test('a veth: no ring and no IRQ are facts, not failures', async (t) => {
  const findings = checkHost(host({ ringSizes: () => 'unsupported', irqs: () => [], offloads: () => 'unsupported' }), plan);
  t.same(failures(findings), []);
  t.match(findings.find((f) => f.check === 'ring size'), { verdict: 'info', detail: /virtual interface/ });
  t.match(findings.find((f) => f.check === 'receive placement'), { verdict: 'info', detail: /no IRQ of its own and no RPS/ });
});

t.test('the io_uring line says how the loops wait: DEFER_TASKRUN, and whether their sleeps show as iowait', async (t) => {
  const line = (deferTaskrun: boolean, noIowait: boolean): string =>
    renderFindings(checkHost(host({ ioUring: () => ({ ok: true, missingOps: [], deferTaskrun, noIowait }) }), plan))
      .split('\n').find((l) => l.includes('io_uring ring')) ?? '';
  t.match(line(true, true), /PASS .*with DEFER_TASKRUN; the loops' sleeps are not counted as iowait/, 'Linux 6.15: no iowait');
  const old = line(false, false);
  t.match(old, /^PASS /, 'an older kernel still passes');
  t.match(old, /DEFER_TASKRUN refused \(Linux 6\.1\)/, 'without DEFER_TASKRUN, said so');
  t.match(old, /sleeps show as iowait in top .*not disk.*Linux 6\.15/, 'and why a worker\'s core shows iowait there');
});

t.test('the loop slice: auto asks for 100 µs and falls back with a start-up warning; 0 and SCHED_FIFO ask for none', async (t) => {
  const asked: number[] = [];
  const refused = host({ threadSlice: (us) => (asked.push(us), { ok: false, code: 'EOPNOTSUPP', message: 'EOPNOTSUPP: sched_setattr: the kernel kept its own slice' }) });
  const auto = checkHost(refused, plan);
  t.same(asked, [100], 'auto (the default) probes 100 µs');
  t.same(failures(auto), [], 'a refused default is no failure');
  const slice = auto.find((f) => f.check === 'loop scheduler slice');
  t.match(slice, { verdict: 'info', warnAtStart: true, detail: /kernel's scheduler slice \(--loop-slice-us auto: EOPNOTSUPP: .*kept its own slice\).*one scheduler tick/ });
  t.same(startWarnings(auto), [slice], 'mcrd logs it at start');
  t.match(checkHost(host({ threadSlice: (us) => (asked.push(us), { ok: true }) }), plan).find((f) => f.check === 'loop scheduler slice'),
    { verdict: 'pass', detail: /^100 µs \(--loop-slice-us auto\)/ });
  asked.length = 0;
  for (const loop of [{ loopSliceUs: 0 }, { loopRtPriority: 10 }]) {
    t.match(checkHost(refused, { ...plan, loop }).find((f) => f.check === 'loop scheduler slice'), { verdict: 'pass' }, JSON.stringify(loop));
  }
  t.same(asked, [], 'neither 0 nor SCHED_FIFO probes a slice');
});

t.test('DAMON: never a failure; info with what lessens it while it runs, pass when the loops run real-time', async (t) => {
  const damonLine = (facts: HostFacts, loop: typeof plan.loop = {}) => checkHost(facts, { ...plan, loop }).find((f) => f.check === 'memory monitoring (DAMON)');
  t.match(damonLine(host()), { verdict: 'pass', detail: /^off: no kdamond/ });
  t.match(damonLine(host({ damon: () => ({ running: 0, reclaim: false, present: false }) })), { verdict: 'pass', detail: /^not in this kernel/ });
  const on = host({ damon: () => ({ running: 1, reclaim: false, present: true }) });
  const running = damonLine(on);
  t.match(running, { verdict: 'info', detail: /^on \(1 kdamond running\): a worker's loop can wait behind kdamond for milliseconds/,
    fix: /LimitRTPRIO=10 in the unit.*--loop-rt-priority auto.*echo off > \/sys\/kernel\/mm\/damon\/admin\/kdamonds\/N\/state/ });
  t.same(failures(checkHost(on, plan)), [], 'not a failure');
  t.notOk(startWarnings(checkHost(on, plan)).some((f) => f.check === 'memory monitoring (DAMON)'), 'nor a warning at start');
  t.match(damonLine(host({ damon: () => ({ running: 0, reclaim: true, present: true }) })), { verdict: 'info', detail: /^on \(DAMON_RECLAIM enabled\)/ });
  t.match(damonLine(on, { loopRtPriority: 10 }), { verdict: 'pass', detail: /SCHED_FIFO \(--loop-rt-priority 10\), so they rarely wait behind kdamond/ });
  t.match(damonLine(host({ damon: () => ({ running: 1, reclaim: false, present: true }), rtprioLimit: () => 10 })),
    { verdict: 'pass', detail: /SCHED_FIFO \(priority 10, --loop-rt-priority auto under RLIMIT_RTPRIO 10\), so they rarely wait/ }, 'auto under a real-time limit');
});

t.test('the loop\'s real-time priority: auto takes what RLIMIT_RTPRIO grants, up to 10, and falls back where the kernel refuses it; a number must be taken', async (t) => {
  const line = (facts: HostFacts, loop: typeof plan.loop = {}) => checkHost(facts, { ...plan, loop }).find((f) => f.check === 'loop real-time priority');
  const refuse = (asked: number[]) => (priority: number) => (asked.push(priority), { ok: false as const, code: 'EPERM', message: 'EPERM: pthread_setschedparam SCHED_FIFO priority 10: Operation not permitted' });
  const none = line(host());
  t.match(none, { verdict: 'info', detail: /normal policy \(--loop-rt-priority auto: RLIMIT_RTPRIO is 0\)/, fix: /^LimitRTPRIO=10 in the unit .*ulimit -r 10/ },
    'auto without a limit: the normal policy, and how to grant it');
  t.notOk(startWarnings(checkHost(host(), plan)).some((f) => f.check === 'loop real-time priority'), 'no warning at start: the normal policy is no fault');
  for (const [limit, priority] of [[10, 10], [5, 5], [99, 10]] as const) {
    const asked: number[] = [];
    const slices: number[] = [];
    const facts = host({ rtprioLimit: () => limit, threadFifo: (p) => (asked.push(p), { ok: true }), threadSlice: (us) => (slices.push(us), { ok: true }) });
    t.match(line(facts), { verdict: 'pass', detail: `the loop threads run SCHED_FIFO at priority ${priority} (--loop-rt-priority auto: RLIMIT_RTPRIO is ${limit})` }, `limit ${limit}: priority ${priority}`);
    t.same(asked, [priority], `limit ${limit}: the probe asks for ${priority}`);
    t.same(slices, [], `limit ${limit}: no slice probed, the loops preempt anyway`);
  }
  const asked: number[] = [];
  const refused = host({ rtprioLimit: () => 10, threadFifo: refuse(asked) });
  const fallback = checkHost(refused, plan);
  const rt = fallback.find((f) => f.check === 'loop real-time priority');
  t.match(rt, { verdict: 'info', warnAtStart: true, detail: /normal policy: SCHED_FIFO at 10 was refused although RLIMIT_RTPRIO allows it \(--loop-rt-priority auto: EPERM: pthread_setschedparam/ },
    'a granted priority the kernel refuses: the normal policy, warned at start');
  t.same(failures(fallback), [], 'not a failure: the workers start');
  t.match(fallback.find((f) => f.check === 'loop scheduler slice'), { verdict: 'pass', detail: /^100 µs/ }, 'the slice is probed then, as the loops will use it');
  t.match(checkHost(host({ rtprioLimit: () => 10, threadFifo: refuse([]), damon: () => ({ running: 1, reclaim: false, present: true }) }), plan)
    .find((f) => f.check === 'memory monitoring (DAMON)'), { verdict: 'info' }, 'and DAMON is not waved through');
  for (const loop of [{ busyPollUs: 1000 }, { loopSliceUs: 200 }]) {
    const probed: number[] = [];
    t.match(line(host({ rtprioLimit: () => 10, threadFifo: (p) => (probed.push(p), { ok: true }) }), loop), { verdict: 'pass', detail: /normal policy \(--loop-rt-priority auto with/ }, JSON.stringify(loop));
    t.same(probed, [], `${JSON.stringify(loop)}: nothing probed`);
  }
  t.match(line(host(), { loopRtPriority: 0 }), { verdict: 'pass', detail: /^the loop threads run under the normal policy \(--loop-rt-priority 0\)$/ });
  t.match(line(host({ rtprioLimit: () => 20 }), { loopRtPriority: 20 }), { verdict: 'pass', detail: /^the loop threads run SCHED_FIFO at priority 20 \(--loop-rt-priority 20\)$/ }, 'a number the limit covers');
  t.match(line(host(), { loopRtPriority: 20 }), { verdict: 'pass', detail: /with RLIMIT_RTPRIO 0, a saturated loop cannot step down and come back once its worker switched user.*LimitRTPRIO=20/ },
    'a number taken through CAP_SYS_NICE alone: said what the guard cannot do');
  t.match(line(host({ threadFifo: refuse([]) }), { loopRtPriority: 20 }), { verdict: 'fail', detail: /SCHED_FIFO at 20 \(--loop-rt-priority 20\) is refused \(EPERM: .*\): every worker would fail to start/ });
});

t.test('parsers', async (t) => {
  t.same(parseCpuMask('00000000,00000005'), [0, 2]);
  t.equal(cpuMask([0, 1, 4]), '13');
  t.same(parseRingSizes('Ring parameters for eth0:\nPre-set maximums:\nRX:\t\t4096\nTX:\t\t4096\nCurrent hardware settings:\nRX:\t\t256\nTX:\t\t256\n'), { rxMax: 4096, rx: 256 });
  t.same([...parseOffloads('Features for eth0:\ngeneric-receive-offload: on\nlarge-receive-offload: off [fixed]\n')], [['generic-receive-offload', true], ['large-receive-offload', false]]);
});

t.test('IRQ vectors of an interface: its own name first or after a driver prefix, not a longer name', async (t) => {
  for (const v of ['eth1-TxRx-0', 'eth1-rx-1', 'eth1', 'i40e-eth1-TxRx-3', 'ice-eth1-TxRx-0']) t.ok(vectorOfInterface(v, 'eth1'), v);
  for (const v of ['eth10-TxRx-0', 'veth1-rx', 'i40e-eth10-TxRx-0', 'mlx5_comp0@pci:0000:01:00.0', 'virtio0-input.0']) t.notOk(vectorOfInterface(v, 'eth1'), v);
  t.ok(vectorOfInterface('eth1.100-rx-0', 'eth1.100'), 'a name with a dot is taken literally');
  t.notOk(vectorOfInterface('eth1x100-rx-0', 'eth1.100'));
});

t.test('a VLAN input on a bond: the members\' ring, offloads and IRQs are checked, named as under the input', async (t) => {
  const lowers: Record<string, string[]> = { 'eth1.100': ['bond0'], bond0: ['eth3', 'eth4'] };
  const vlanPlan = { ...plan, rules: [{ inputInterface: 'eth1.100', outputs: [{ group: '239.1.1.1', port: 5000, interface: 'eth2' }] }] };
  const facts = host({
    lowerDevices: (n) => lowers[n] ?? [],
    ringSizes: (n) => (n === 'eth4' ? { rx: 512, rxMax: 4096 } : n.startsWith('eth3') ? { rx: 4096, rxMax: 4096 } : 'unsupported'),
    offloads: (n) => (n === 'eth3' ? new Map([['rx-udp-gro-forwarding', true]]) : new Map()),
  });
  const findings = checkHost(facts, vlanPlan as typeof plan);
  const failed = failures(findings);
  t.match(failed.find((f) => f.check === 'ring size'), { subject: 'eth4 (under input eth1.100)', fix: 'ethtool -G eth4 rx 4096' }, 'a member\'s small ring');
  t.match(failed.find((f) => f.check === 'receive offloads'), { subject: 'eth3 (under input eth1.100)', fix: /^ethtool -K eth3 rx-udp-gro-forwarding off$/ }, 'a member\'s merging offload');
  t.same(findings.filter((f) => f.check === 'ring size').map((f) => f.subject),
    ['eth1.100 (input)', 'bond0 (under input eth1.100)', 'eth3 (under input eth1.100)', 'eth4 (under input eth1.100)'], 'the input, then each device under it once');
});
