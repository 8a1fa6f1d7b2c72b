/**
 * The wire layer in one import: framing, the control and worker codecs and
 * their message types. Everything that reads or writes a control or worker
 * socket goes through here.
 */
export * from './errors.js';
export * from './framing.js';
export * from './common-types.js';
export * from './control-types.js';
export * from './worker-types.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './control.js';
export { decodeCommand, decodeReply, encodeCommand, encodeReply } from './worker.js';
export { protoDir, protoRoot } from './proto-root.js';
