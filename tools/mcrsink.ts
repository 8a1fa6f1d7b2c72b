#!/usr/bin/env node
// The `mcrsink` bin: runs the native traffic sink (counts loss, duplicates,
// reordering and corruption of mcrgen's packets; see native/tools/mcrsink.cc)
// from build/Release with this process's arguments and stdio, and exits with
// its status.
import { execNativeTool } from './native-tool.js';

execNativeTool('mcrsink', process.argv.slice(2));
