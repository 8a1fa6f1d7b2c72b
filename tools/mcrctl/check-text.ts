/**
 * What `mcrctl check` sends with a file's path: its text, read with the
 * caller's permissions, when the caller can read it and it fits in one
 * control request. Then mcrd validates that text and reads no file, so a
 * file only the caller can see (in a home directory, which mcrd's systemd
 * unit hides, or in /tmp, which the unit makes mcrd's own) is checked as
 * written. A file the caller cannot read, or one too large for a request,
 * goes by path alone and mcrd reads it, as itself.
 */
import { readConfigText } from '../../supervisor/config/index.js';

/**
 * The largest text sent: mcrd takes requests of up to 64 KiB
 * (supervisor/control/server.ts), which must also hold the path and the
 * request's other fields.
 */
export const CHECK_TEXT_MAX_BYTES = 56 * 1024;

export function checkText(file: string): { text?: string } {
  let text: string;
  try {
    text = readConfigText(file);
  } catch {
    return {};
  }
  return Buffer.byteLength(text, 'utf8') <= CHECK_TEXT_MAX_BYTES ? { text } : {};
}
