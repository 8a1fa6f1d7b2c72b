/**
 * The demo's own failures. Like every mcr error they carry a code (an errno
 * name or ERR_MCR_DEMO_...) and a message that says what to do; main.ts
 * prints them as one line, `demo: CODE: message`.
 */
export type DemoErrorCode =
  | 'EPERM' // not root
  | 'ENOENT' // a build product is missing
  | 'ERR_MCR_DEMO_USAGE' // a bad command-line option
  | 'ERR_MCR_DEMO_LAB' // namespaces cannot be made here
  | 'ERR_MCR_DEMO_CONFIG' // docs/demo.json5 does not fit the lab
  | 'ERR_MCR_DEMO_MCRD' // mcrd or its workers did not come up
  | 'ERR_MCR_DEMO_TOOL'; // mcrgen, mcrsink or mcrctl failed

export class DemoError extends Error {
  constructor(readonly code: DemoErrorCode, message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

/** `CODE: message` on one line, for any error. */
export function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return `${typeof code === 'string' ? code : 'ERR_MCR_INTERNAL'}: ${message.replace(/\s*\n\s*/g, ' ')}`;
}
