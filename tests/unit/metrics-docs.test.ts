/**
 * docs/metrics.md and docs/grafana/mcr.json against what a scrape writes:
 * the metrics table lists exactly the metrics of a scrape (with their type
 * and labels), and the `errno` and `reason` lists hold the addon's counter
 * names; the dashboard is JSON Grafana imports as is (its data source the
 * DS_PROMETHEUS input everywhere), its queries name only metrics and labels
 * a scrape has, and promtool parses every query (skipped, naming why, where
 * promtool is not installed).
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { MetricsCollector } from '../../supervisor/metrics/collector.js';
import { counterNames } from '../../supervisor/metrics/snapshot.js';
import { ROOT } from '../integration/harness.js';
import { parseMetrics, type ParsedMetrics } from './metrics-text.js';

async function scrape(): Promise<ParsedMetrics> {
  const c = new MetricsCollector({ names: counterNames(native.counterLayout()), version: '0', source: async () => ({
    rules: [{ id: 1, name: 'n', inputInterface: 'in0', inputGroup: '239.1.1.1', inputPort: 5000, outputs: [{ group: '239.2.2.2', port: 6000, interface: 'out0' }],
      monitor: 'rtp' }],
    stats: { rules: [{ ruleId: 1, packets: 1, bytes: 1, errors: 1, outputs: [{ packets: 1, bytes: 1, errors: 1, errorsByErrno: { ENOBUFS: 1 } }] }],
      workers: [{ worker: 'in0/0', interface: 'in0', received: 1, kernelDrops: 0, restarts: 0, loop: { rt_stepdowns: 0, rt_stepped_down: 0 } }], inputs: [], outputInterfaces: [{ interface: 'out0', qdisc: 'fq_codel', qdiscDrops: 2, deviceDrops: 1, lower: [], upper: [] }] },
    workers: [{ id: 'in0/0', interface: 'in0', core: 0, pid: 1, state: 'running', restarts: 0, generation: 1, logLevel: 'info', startedAtMs: 0,
      loop: { ingress: 'ring', sliceUs: 100, rtPriority: 0, deferTaskrun: true, noIowait: true } }],
    reload: { successful: true, lastSuccessSeconds: 1 },
  }) });
  return parseMetrics(await c.scrape());
}

/** Metric name -> sorted label names, from a scrape. */
function labelsByMetric(p: ParsedMetrics): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const s of p.samples) {
    const set = out.get(s.name) ?? new Set<string>();
    for (const l of Object.keys(s.labels)) set.add(l);
    out.set(s.name, set);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

t.test('docs/metrics.md lists every metric a scrape writes, and only those', async (t) => {
  const p = await scrape();
  const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(mcr_[a-z_]+)` \| (\w+) \|([^|]*)\|/gm)]
    .map((m) => ({ name: m[1] ?? '', type: m[2] ?? '', labels: [...(m[3] ?? '').matchAll(/`(\w+)`/g)].map((l) => l[1] ?? '').sort() }));
  const scraped = labelsByMetric(p);
  t.same(rows.map((r) => r.name).sort(), [...scraped.keys()].sort(), 'the same metric names');
  for (const r of rows) {
    t.equal(r.type, p.types.get(r.name), `${r.name}: type`);
    t.same(r.labels, scraped.get(r.name), `${r.name}: labels`);
  }
  const listed = (label: string): string[] => {
    const m = new RegExp(`^- \`${label}\`: ([\\s\\S]*?)(?=\\n- |\\n\\n)`, 'm').exec(doc);
    return [...(m?.[1] ?? '').matchAll(/`([A-Za-z0-9_]+)`/g)].map((x) => x[1] ?? '');
  };
  const layout = native.counterLayout();
  const errnos = layout.output.filter((n) => n.startsWith('err_')).map((n) => (n === 'err_other' ? 'other' : n.slice(4).toUpperCase()));
  t.same(listed('errno').filter((e) => e === 'other' || /^E[A-Z]+$/.test(e)).sort(), errnos.sort(), 'errno values: the counter columns');
  t.same(listed('reason').sort(), counterNames(layout).malformedReasons.slice().sort(), 'reason values: the drop_* counters');
});

t.test('the Grafana dashboard imports as is and queries what a scrape has', async (t) => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'mcr.json'), 'utf8')) as {
    __inputs: Array<{ name: string; type: string; pluginId: string }>;
    uid: string; title: string; id: null;
    panels: Array<{ type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string; datasource: { uid: string } }> }>;
    templating: { list: Array<{ name: string; query: { query: string }; datasource: { uid: string } }> };
  };
  t.match(dash.__inputs, [{ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }]);
  t.equal(dash.id, null, 'no id: Grafana gives one on import');
  t.ok(dash.uid.length > 0 && dash.title.length > 0);
  const queries = dash.panels.filter((x) => x.type !== 'row');
  t.ok(queries.length >= 10, `${queries.length} panels`);
  const exprs: string[] = [];
  for (const panel of queries) {
    t.equal(panel.datasource?.uid, '${DS_PROMETHEUS}', `${panel.title}: the data source input`);
    t.ok((panel.targets ?? []).length > 0, `${panel.title}: has a query`);
    for (const target of panel.targets ?? []) {
      t.equal(target.datasource.uid, '${DS_PROMETHEUS}');
      exprs.push(target.expr);
    }
  }
  // Every rule and output panel (the overview's stat panels aside) follows the rule variable;
  // an output interface's series belong to no rule (mcr_output_interface_*).
  t.ok(exprs.filter((e) => /mcr_(rule|output)_(?!interface_)/.test(e) && !/^count\(|^sum\(rate/.test(e)).every((e) => e.includes('rule=~"$rule"')),
    'rule and output panels follow the rule variable');
  for (const v of dash.templating.list) {
    t.equal(v.datasource.uid, '${DS_PROMETHEUS}', `variable ${v.name}: the data source input`);
    exprs.push(v.query.query.replace(/^label_values\((.*), \w+\)$/, '$1'));
  }
  const scraped = labelsByMetric(await scrape());
  for (const expr of exprs) {
    for (const m of expr.matchAll(/(mcr_[a-z_]+)(?:\{([^}]*)\})?/g)) {
      const name = m[1] ?? '';
      t.ok(scraped.has(name), `${name} is a metric mcrd writes`);
      for (const l of (m[2] ?? '').matchAll(/(\w+)=~?"/g)) {
        if (l[1] !== 'instance') t.ok(scraped.get(name)?.includes(l[1] ?? ''), `${name} has label ${l[1]}`);
      }
    }
    for (const m of expr.matchAll(/by \(([^)]*)\)/g)) {
      for (const l of (m[1] ?? '').split(/,\s*/)) t.ok([...scraped.values()].some((ls) => ls.includes(l)), `grouping label ${l} exists`);
    }
  }

  const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  await t.test('promtool parses every query', { skip: promtool === '' ? 'promtool is not installed (Debian package prometheus)' : false }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mcr-dash-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    // Grafana's own variable, replaced by what it stands for; $instance and $rule stay, as regex text.
    const rules = exprs.map((e, i) => `      - record: mcr_dashboard_query_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '1m'))}`);
    const file = join(dir, 'dashboard.rules.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
    const out = execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
    t.match(out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });
});
