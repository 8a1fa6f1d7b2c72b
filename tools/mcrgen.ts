#!/usr/bin/env node
// The `mcrgen` bin: runs the native traffic generator (numbered, checksummed
// UDP test packets; see native/tools/mcrgen.cc) from build/Release with this
// process's arguments and stdio, and exits with its status.
import { execNativeTool } from './native-tool.js';

execNativeTool('mcrgen', process.argv.slice(2));
