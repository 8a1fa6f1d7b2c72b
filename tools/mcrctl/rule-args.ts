/**
 * Turns `mcrctl add`'s flags into the rule sent to mcrd, validated on this
 * side first by common/rule-spec.ts (the one definition of a valid rule, the
 * same code mcrd runs), so a typo is a usage error (exit 2) reported in
 * terms of the flag the user typed, and mcrd is never contacted for it.
 */
import type { RuleInput } from '../../proto/index.js';
import { checkInterfaceName, RuleError, validateRule } from '../../common/rule-spec.js';
import { asWritten, parseOutputList } from '../../common/rule-text.js';
import { usageError } from './errors.js';

export interface AddFlags {
  inputInterface: string;
  inputGroup: string;
  inputPort: string;
  source?: string;
  excludeSources?: string;
  joinGroups?: string;
  outputs: string;
  name?: string;
  signalTimeout?: string;
  monitor?: string;
}

/** The flag that sets each field of the rule (RuleError.path[0]). */
const FLAG_FOR_FIELD: Readonly<Record<string, string>> = {
  inputGroup: '--input-group',
  inputPort: '--input-port',
  source: '--source',
  excludeSources: '--exclude-sources',
  joinGroups: '--join-groups',
  name: '--name',
  outputs: '--outputs',
  signalTimeoutMs: '--signal-timeout',
  monitor: '--monitor',
};

/** Validates the flags; throws a usage error naming the flag at fault. */
export function ruleFromFlags(flags: AddFlags): RuleInput {
  try {
    checkInputInterface(flags.inputInterface);
    const spec = validateRule({
      inputGroup: flags.inputGroup,
      // validateRule accepts decimal strings, so the port's range check is its own.
      inputPort: flags.inputPort,
      outputs: parseOutputList(flags.outputs).map(asWritten),
      ...(flags.source !== undefined ? { source: flags.source } : {}),
      ...(flags.excludeSources !== undefined ? { excludeSources: flags.excludeSources } : {}),
      ...(flags.joinGroups !== undefined ? { joinGroups: flags.joinGroups } : {}),
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(flags.signalTimeout !== undefined ? { signalTimeoutMs: flags.signalTimeout } : {}),
      ...(flags.monitor !== undefined ? { monitor: flags.monitor } : {}),
    });
    return { inputInterface: flags.inputInterface, ...spec };
  } catch (err) {
    if (err instanceof RuleError) throw usageError(flagMessage(err), err.code);
    throw err;
  }
}

/** validateRule does not cover the input interface (rules files give it per relay): the same name check, by itself. */
function checkInputInterface(name: string): void {
  checkInterfaceName(name, '--input-interface');
}

/**
 * rule-spec's message names the field where it is (`rule.inputPort: ...`,
 * from the path it reports); the user typed a flag, so the message names
 * the flag instead.
 */
function flagMessage(err: RuleError): string {
  const field = err.path?.[0];
  const flag = typeof field === 'string' ? FLAG_FOR_FIELD[field] : undefined;
  const location = `rule.${String(field)}`;
  return flag !== undefined && err.message.startsWith(location) ? flag + err.message.slice(location.length) : err.message;
}
