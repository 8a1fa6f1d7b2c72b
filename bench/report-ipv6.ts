/**
 * The "IPv6" section of the markdown report (issue 16): the IPv6 cells'
 * zero-loss throughput per method at fan-out 1, MCR's throughput and CPU
 * per datagram as a ratio to each anchor measured over IPv6 in the same
 * run, and each anchor this host could not run over IPv6 with its reason
 * (the kernel's without CONFIG_IPV6_MROUTE). Empty for runs without IPv6
 * cells.
 */
import { ANCHORS, GROUP6, hasFamily, METHOD_LABELS, METHODS, PORT, type MethodName } from './config.js';
import { kpps } from './limits.js';
import { cell, cpuRatio, figure, fmtRate, num, skippedMethods, table, throughputRatio } from './report-md.js';
import type { BenchResults } from './results.js';

export function ipv6Section(r: BenchResults): string[] {
  const cells = r.cells.filter((c) => c.family === 6);
  if (cells.length === 0) return [];
  const methods = METHODS.filter((m) => r.config.methods.includes(m));
  const payloads = [...new Set(cells.map((c) => c.payload))];
  const gen = r.generatorMax.filter((g) => g.family === 6).map((g) => `${g.payload} B: ${kpps(g.pps)}`).join(', ');
  const out = [
    '## IPv6 (fan-out 1)',
    '',
    `The same stream over IPv6 ([${GROUP6}]:${PORT} from 2001:db8:99::1, in0 → out0), each method in its IPv6 form, measured ` +
      `${hasFamily(r.config, 4) ? 'after the IPv4 cells in the same lab' : 'in the lab'} with IPv6 turned on (no DAD, no router solicitations); ` +
      `same trials and zero-loss search as the IPv4 cells. ` +
      `Generator maximum over IPv6: ${gen || '–'}.`,
    '',
    table(['payload B', ...methods.map((m) => METHOD_LABELS[m])], payloads.map((p) => [String(p), ...methods.map((m) => fmtRate(cell(r, m, p, 1, 6)))])),
    '',
    "Relay-core CPU seconds per million input datagrams over IPv6, at each method's zero-loss rate (as in the IPv4 CPU table):",
    '',
    table(['payload B', ...methods.map((m) => METHOD_LABELS[m])], payloads.map((p) => [String(p), ...methods.map((m) => {
      const c = cell(r, m, p, 1, 6);
      return c?.skipped !== undefined ? 'not measured' : num(c?.search?.reported?.cpuSecPerMInput, 3);
    })])),
    '',
  ];
  const anchors = ANCHORS.filter((m) => methods.includes(m));
  if (methods.includes('mcr') && anchors.length > 0) {
    const ratios = (ratio: (mcr: Parameters<typeof cpuRatio>[0], a: Parameters<typeof cpuRatio>[1]) => string): string =>
      table(['payload B', ...anchors.map((a) => `MCR ÷ ${METHOD_LABELS[a]}`)], payloads.map((p) => [String(p), ...anchors.map((a) => {
        const c = cell(r, a, p, 1, 6);
        if (c === undefined) return '–';
        if (c.skipped !== undefined) return 'not measured';
        if (c.error !== undefined) return `error \`${c.error.code}\``;
        return ratio(cell(r, 'mcr', p, 1, 6), c);
      })]));
    out.push('Zero-loss throughput over IPv6, MCR ÷ anchor (higher is better for MCR):', '',
      ratios((mcr, a) => throughputRatio(figure(mcr), figure(a))), '',
      'Relay-core CPU per million input datagrams over IPv6, MCR ÷ anchor (lower is better for MCR):', '',
      ratios((mcr, a) => cpuRatio(mcr, a)), '');
  }
  const skipped = skippedMethods(r, 6);
  if (skipped.length > 0) {
    out.push('Not measured over IPv6 on this host:', '', ...skipped.map(([m, why]) => `- ${METHOD_LABELS[m as MethodName]}: ${why}`), '');
  }
  return out;
}
