/**
 * Rules files for the standalone relay: JSON, either an array of rules or
 * {"rules": [...]}, each rule in the shape of RuleSpec. Errors name the file
 * and the field.
 */
import { readFileSync } from 'node:fs';
import { RuleError, validateRule, type RuleSpec } from '../common/rule-spec.js';

export function loadRulesFile(path: string): RuleSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EIO';
    throw new RuleError(`${path}: cannot read (${code}): check the path and permissions`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new RuleError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const list = Array.isArray(data) ? data : (data as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new RuleError(`${path}: expected an array of rules or {"rules": [...]}`);
  return list.map((r, i) => validateRule(r, `${path}: rules[${i}]`));
}
