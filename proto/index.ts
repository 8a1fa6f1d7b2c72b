/**
 * The wire layer in one import: framing, the control and worker codecs and
 * their message types (generated from the .proto files beside this file).
 * Everything that reads or writes a control or worker socket goes through
 * here.
 */
export * from './errors.js';
export * from './framing.js';
export * from './types.js';
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './control.js';
export { decodeCommand, decodeReply, encodeCommand, encodeReply } from './worker.js';
export { protoRoot } from './schema.js';
