/**
 * bench:profile counts the timer interrupts and IPIs each core took per
 * datagram (bench/host-counters.ts readInterrupts), since on this project's
 * VM their cost is what perf cannot place: the parser takes the per-CPU
 * rows by name from a /proc/interrupts of the test's own, skips device
 * IRQs and rows with fewer columns than CPUs, and reads the real file.
 */
import t from 'tap';
import { interruptsPer, readInterrupts } from '../../bench/host-counters.js';

const SAMPLE = [
  '           CPU0       CPU1       ',
  '  1:          9          0  IO-APIC   1-edge      i8042',
  ' 24:     123456         17  PCI-MSI 49152-edge      virtio0-input.0',
  'NMI:          0          0   Non-maskable interrupts',
  'LOC:  169010157   37840152   Local timer interrupts',
  'RES:    5814200    4369580   Rescheduling interrupts',
  'CAL:  398615915  299113209   Function call interrupts',
  'ERR:          0',
  'MIS:          0',
  '',
].join('\n');

t.test('readInterrupts takes the named per-CPU rows, not device IRQs', async (t) => {
  const rows = readInterrupts(SAMPLE);
  t.strictSame(rows.get('LOC'), [169010157, 37840152], 'local timer, per core');
  t.strictSame(rows.get('CAL'), [398615915, 299113209], 'function-call IPIs, per core');
  t.strictSame(rows.get('RES'), [5814200, 4369580], 'rescheduling IPIs, per core');
  t.strictSame(rows.get('NMI'), [0, 0], 'zero counts are counts');
  t.equal(rows.has('ERR'), false, 'a one-column total (ERR, MIS) is not per core');
  t.equal(rows.has('24'), false, 'device IRQs are left out');
  t.equal(readInterrupts('').size, 0, 'an empty file gives nothing');
  const later = readInterrupts(SAMPLE.replace('CAL:  398615915  299113209', 'CAL:  398616915  299113209'));
  t.equal(interruptsPer(rows, later, 'CAL', 0, 500), 2, 'CAL on core 0: 1000 more over 500 datagrams');
  t.equal(interruptsPer(rows, later, 'CAL', 1, 500), 0, 'core 1 took none');
  t.equal(interruptsPer(rows, later, 'XYZ', 0, 500), 0, 'a row neither sample has: 0');
});

// x86 names its local timer and IPI rows LOC, CAL, RES; arm64 numbers them IPI0..IPIn.
t.test('readInterrupts reads this host\'s file', { skip: process.arch === 'x64' ? false : `the LOC row is x86's; this is ${process.arch}` }, async (t) => {
  const rows = readInterrupts();
  const loc = rows.get('LOC');
  t.ok(loc !== undefined && loc.length >= 1 && loc.every((n) => Number.isInteger(n) && n >= 0), `LOC per core: ${JSON.stringify(loc)}`);
});
