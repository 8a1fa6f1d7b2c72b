/**
 * The host check's reading of an interface's receive IRQs
 * (supervisor/host-check/host-facts.ts), on made-up procfs and sysfs trees:
 * vectors named after the interface (or a driver prefix and the interface)
 * are found by name; vectors named after the device (virtio-net's
 * "virtio2-input.0", mlx5's "mlx5_comp0@pci:...") through the device's MSI
 * vectors, receive ones only (not transmit, configuration or async ones);
 * each with the cores it is delivered to. Before, the device-named ones were
 * not found at all and the check said the interface had no IRQ of its own.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isReceiveVector, readHostFacts } from '../../supervisor/host-check/host-facts.js';

function tree(t: { teardown(fn: () => void): void }, files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'mcr-host-facts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(join(root, target), join(root, path));
  }
  return root;
}

const interrupts = (vectors: Record<number, string>): string =>
  '           CPU0       CPU1\n' + Object.entries(vectors).map(([irq, name]) => `${irq}:        10         20  PCI-MSIX-0000:00:03.0 1-edge      ${name}`).join('\n') + '\nNMI:          0          0   Non-maskable interrupts\n';

const affinity = (irq: number, cpus: string): Record<string, string> => ({ [`proc/irq/${irq}/effective_affinity_list`]: `${cpus}\n` });

t.test('virtio-net: the input vectors of the device\'s virtio-pci function', async (t) => {
  const root = tree(t, {
    'proc/interrupts': interrupts({ 37: 'virtio2-config', 38: 'virtio2-input.0', 39: 'virtio2-output.0', 40: 'virtio2-input.1', 41: 'virtio2-output.1', 45: 'virtio3-input.0' }),
    ...affinity(38, '1'), ...affinity(40, '0'), ...affinity(45, '1'),
    'sys/devices/pci0000:00/0000:00:03.0/msi_irqs/37': '', 'sys/devices/pci0000:00/0000:00:03.0/msi_irqs/38': '',
    'sys/devices/pci0000:00/0000:00:03.0/msi_irqs/39': '', 'sys/devices/pci0000:00/0000:00:03.0/msi_irqs/40': '',
    'sys/devices/pci0000:00/0000:00:03.0/msi_irqs/41': '',
    'sys/devices/pci0000:00/0000:00:03.0/virtio2/net/ens3/flags': '0x1003\n',
  }, { 'sys/class/net/ens3': 'sys/devices/pci0000:00/0000:00:03.0/virtio2/net/ens3',
    'sys/devices/pci0000:00/0000:00:03.0/virtio2/net/ens3/device': 'sys/devices/pci0000:00/0000:00:03.0/virtio2' });
  t.same(readHostFacts(root).irqs('ens3'), [{ irq: 38, cpus: [1] }, { irq: 40, cpus: [0] }],
    'its two input vectors with their cores; not its config or output vectors, nor another device\'s');
});

t.test('mlx5: the completion vectors listed in the PCI function\'s msi_irqs', async (t) => {
  const root = tree(t, {
    'proc/interrupts': interrupts({ 24: 'bridge-comp-rx', 60: 'mlx5_async0@pci:0000:03:00.0', 61: 'mlx5_comp0@pci:0000:03:00.0', 62: 'mlx5_comp1@pci:0000:03:00.0', 70: 'mlx5_comp0@pci:0000:03:00.1' }),
    ...affinity(61, '2'), ...affinity(62, '3'), ...affinity(24, '0'),
    'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0/msi_irqs/60': '', 'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0/msi_irqs/61': '',
    'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0/msi_irqs/62': '',
    // The root port above it has vectors of its own; one named like a completion vector must not count.
    'sys/devices/pci0000:00/0000:00:01.0/msi_irqs/24': '',
  }, { 'sys/class/net/enp3s0f0np0/device': 'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0' });
  t.same(readHostFacts(root).irqs('enp3s0f0np0'), [{ irq: 61, cpus: [2] }, { irq: 62, cpus: [3] }],
    'its completion vectors; not the async one, the other port\'s, nor the bridge\'s above it');
});

t.test('vectors named after the interface are taken by name; a veth has none', async (t) => {
  const root = tree(t, {
    'proc/interrupts': interrupts({ 50: 'i40e-eth1-TxRx-0', 51: 'i40e-eth1-TxRx-1', 52: 'i40e-eth10-TxRx-0', 53: 'i40e-0000:05:00.0:misc' }),
    'proc/irq/50/smp_affinity_list': '0-1\n', ...affinity(51, '1'),
    'sys/devices/pci0000:00/0000:05:00.0/msi_irqs/53': '',
    'sys/devices/virtual/net/veth9/flags': '0x1003\n',
  }, { 'sys/class/net/eth1/device': 'sys/devices/pci0000:00/0000:05:00.0', 'sys/class/net/veth9': 'sys/devices/virtual/net/veth9' });
  t.same(readHostFacts(root).irqs('eth1'), [{ irq: 50, cpus: [0, 1] }, { irq: 51, cpus: [1] }],
    'by name (the mask where the kernel gives no effective affinity); the misc vector is not a receive one');
  t.same(readHostFacts(root).irqs('veth9'), [], 'no device, no vectors');
  t.same(readHostFacts(root).irqs('gone0'), [], 'an interface that does not exist: none');
});

t.test('isReceiveVector: receive and combined vectors, not transmit, configuration or control ones', async (t) => {
  for (const v of ['virtio2-input.0', 'mlx5_comp7@pci:0000:03:00.0', 'gve-ntfy-blk0@pci:0000:00:04.0', 'ens5-rx-1', 'eth1-TxRx-0']) {
    t.ok(isReceiveVector(v), v);
  }
  for (const v of ['virtio2-output.0', 'virtio2-config', 'mlx5_async0@pci:0000:03:00.0', 'gve-mgmnt@pci:0000:00:04.0', 'ens5-tx-1',
    'virtio0-inflate', 'virtio4-ctrl', 'i40e-0000:05:00.0:misc']) {
    t.notOk(isReceiveVector(v), v);
  }
});
