/**
 * Cross-references stay true: every relative Markdown link in README.md and
 * docs/ points to a file that exists and, with a `#fragment`, to a heading
 * that file has (GitHub's anchor rules); every citation of a section by
 * name, `docs/performance.md, "Stalls of the relay core"` or
 * `mcrd.md ("CPUs")`, in the docs and in the code's comments and messages,
 * names a heading or a bold paragraph label of that file. Sections get
 * renamed and moved; a citation nobody can follow is worse than none.
 * Citations of files outside the repository (../shared/DESIGN.md) are not
 * checked.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../integration/harness.js';

/** Folders whose files may cite docs; build output, dependencies and result files are skipped. */
const SCANNED = ['README.md', 'docs', 'common', 'supervisor', 'worker', 'tools', 'bench', 'native', 'proto', 'tests', 'packaging', '.ci'];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', '.git', 'results']);
const SOURCE_FILE = /\.(ts|cc|h|md|sh|json5?|proto|service|conf)$|^run$/;

/** The files under `path` (or `path` itself) that may cite docs. */
function listFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((rel) => !rel.split('/').some((part) => SKIPPED_DIRS.has(part)) && SOURCE_FILE.test(basename(rel)))
    .map((rel) => join(path, rel))
    .filter((p) => statSync(p).isFile());
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters, digits, '-', '_' and spaces kept), spaces to '-'. */
function headingSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

interface DocTargets {
  anchors: Set<string>;
  /** Headings and bold paragraph labels, normalized (see `normalize`). */
  labels: string[];
}

const normalize = (s: string): string => s.replace(/\\'/g, '\'').replace(/`/g, '').replace(/\s+/g, ' ').trim().toLowerCase();

/** The anchors and the citable labels of one Markdown text; fenced code blocks hold neither. */
function docTargets(markdown: string): DocTargets {
  const anchors = new Set<string>();
  const labels: string[] = [];
  const seen = new Map<string, number>();
  let fenced = false;
  const prose: string[] = [];
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    prose.push(line);
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (h?.[1] === undefined) continue;
    const slug = headingSlug(h[1].replace(/`/g, ''));
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
    labels.push(normalize(h[1]));
  }
  for (const m of prose.join('\n').matchAll(/\*\*([^*]+)\*\*/g)) labels.push(normalize(m[1] ?? ''));
  return { anchors, labels };
}

/** A citation names a section when a heading or bold label starts with its words (titles are often cited short). */
function citesLabel(targets: DocTargets, title: string): boolean {
  const q = normalize(title);
  return targets.labels.some((l) => l.startsWith(q));
}

interface Reference { file: string; target: string; fragment?: string; title?: string }

/**
 * The references one file makes. Line breaks with their comment markers
 * (` * `, `//`, `#`) are joined first, so a title wrapped over two comment
 * lines is read whole. A cited title starts with a capital letter or a
 * backtick; shell words like "$repo/..." are not titles.
 */
function referencesIn(file: string, text: string): Reference[] {
  const refs: Reference[] = [];
  if (file.endsWith('.md')) {
    for (const m of text.matchAll(/\]\(([^)\s#]+?\.md)(#[^)\s]*)?\)/g)) {
      const target = m[1] ?? '';
      if (/^[a-z]+:/.test(target)) continue;
      refs.push({ file, target, ...(m[2] !== undefined ? { fragment: decodeURIComponent(m[2].slice(1)) } : {}) });
    }
    for (const m of text.matchAll(/\]\(#([^)\s]+)\)/g)) refs.push({ file, target: basename(file), fragment: decodeURIComponent(m[1] ?? '') });
  }
  const joined = text.replace(/\n[ \t]*(\*(?!\*)|\/\/|#(?![#\w]))?[ \t]*/g, ' ');
  for (const m of joined.matchAll(/([\w./-]+\.md)[,:]?\s*\(?\s*"([A-Z`][^"$]{2,120})"/g)) {
    refs.push({ file, target: m[1] ?? '', title: m[2] ?? '' });
  }
  return refs;
}

/** What is wrong with one reference, or undefined; `read` gives a Markdown file's targets. */
function checkReference(ref: Reference, root: string, read: (path: string) => DocTargets): string | undefined {
  const where = relative(root, ref.file);
  if (/(^|\/)DESIGN\.md$/.test(ref.target)) return undefined; // outside the repository
  const candidates = ref.title === undefined
    ? [resolve(dirname(ref.file), ref.target)]
    : [resolve(dirname(ref.file), ref.target), join(root, ref.target), join(root, 'docs', ref.target.replace(/^docs\//, ''))];
  const path = candidates.find((c) => existsSync(c));
  if (path === undefined) return `${where}: ${ref.target} does not exist`;
  const targets = read(path);
  if (ref.fragment !== undefined && !targets.anchors.has(ref.fragment)) return `${where}: ${ref.target} has no heading #${ref.fragment}`;
  if (ref.title !== undefined && !citesLabel(targets, ref.title)) return `${where}: ${ref.target} has no heading or bold label "${ref.title}"`;
  return undefined;
}

t.test('the checker finds what it should', async (t) => {
  const doc = docTargets('# Title\n\n## The lab: veths\n\n**Pinning.** text\n\n```\n## not a heading\n```\n\n## The lab: veths\n');
  t.ok(doc.anchors.has('the-lab-veths'), 'anchor of a heading with punctuation');
  t.ok(doc.anchors.has('the-lab-veths-1'), 'a repeated heading gets -1');
  t.notOk(doc.anchors.has('not-a-heading'), 'a fenced line is no heading');
  t.ok(citesLabel(doc, 'The lab'), 'a short citation of a heading');
  t.ok(citesLabel(doc, 'Pinning'), 'a bold label');
  t.notOk(citesLabel(doc, 'Steering'), 'an unknown title');
  const refs = referencesIn('/r/bench/x.ts', '/* see docs/performance.md, "The\n * lab") and\n * mcrd.md ("CPUs") */ const s = "$repo/a.md";');
  t.same(refs.map((r) => [r.target, r.title]), [['docs/performance.md', 'The lab'], ['mcrd.md', 'CPUs']], 'citations, one wrapped over comment lines');
  const links = referencesIn('/r/docs/a.md', 'see [b](b.md#x-y) and [c](../README.md) and [w](https://e.org/a.md) and [s](#here)');
  t.same(links.map((r) => [r.target, r.fragment]), [['b.md', 'x-y'], ['../README.md', undefined], ['a.md', 'here']], 'relative links, and anchors in the same file');
});

t.test('every link and section citation in the docs and the code resolves', async (t) => {
  const cache = new Map<string, DocTargets>();
  const read = (path: string): DocTargets => {
    let d = cache.get(path);
    if (d === undefined) {
      d = docTargets(readFileSync(path, 'utf8'));
      cache.set(path, d);
    }
    return d;
  };
  // This file's own examples are not citations.
  const files = SCANNED.flatMap((p) => listFiles(join(ROOT, p))).filter((f) => !f.endsWith('docs-references.test.ts'));
  const refs = files.flatMap((f) => referencesIn(f, readFileSync(f, 'utf8')));
  const broken = refs.map((r) => checkReference(r, ROOT, read)).filter((e): e is string => e !== undefined);
  t.ok(refs.length > 100, `references found (${refs.length} in ${files.length} files)`);
  t.same(broken, [], 'no broken references');
});
