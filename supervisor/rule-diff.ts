/**
 * What differs between two versions of a rule, field by field, for reload.
 * The walk is generic (every key of every object, every array index), so a
 * field added to the rule model later takes part in the diff without
 * anyone remembering to list it: a reload can never again report
 * "0 changed" for an edit it did not look at. The rule's id is not content.
 */
import type { FieldChange } from '../proto/index.js';

type Value = unknown;

function isPlainObject(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON text of a leaf, or '' for a field that is absent. */
function text(v: Value): string {
  return v === undefined ? '' : JSON.stringify(v);
}

function walk(path: string, a: Value, b: Value, out: FieldChange[]): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(`${path}[${i}]`, a[i], b[i], out);
    return;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      if (path === '' && key === 'id') continue;
      walk(path === '' ? key : `${path}.${key}`, a[key], b[key], out);
    }
    return;
  }
  // Leaves, or a value whose kind changed (an output added or removed).
  if (text(a) !== text(b)) out.push({ field: path, before: text(a), after: text(b) });
}

/** Every field of `after` that differs from `before` (ids ignored); [] when the rules are the same. */
export function ruleDiff(before: object, after: object): FieldChange[] {
  const out: FieldChange[] = [];
  walk('', before, after, out);
  return out;
}
