/**
 * The NODE_OPTIONS filter of tests/tap-child-env.ts, apart from that
 * module's side effect (it hooks every spawn of the process that imports
 * it), so that its unit test can import it alone.
 */

/** NODE_OPTIONS without tap's process-info hook; undefined when nothing else is left. */
export function withoutProcessInfo(nodeOptions: string | undefined): string | undefined {
  if (nodeOptions === undefined) return undefined;
  // Node's syntax: arguments split at spaces, or double-quoted (tap quotes each).
  const args = nodeOptions.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
  const kept = args.filter((arg) => !/^"?--(import|loader|experimental-loader)=.*@tapjs[\\/]processinfo/.test(arg));
  return kept.length > 0 ? kept.join(' ') : undefined;
}
