"""The lab guest as a libvirt domain: the hardware of qemu.common_args
(machine pc under TCG, 256 MiB, one vCPU, the lab's kernel and initrd, an
e1000 with the lab's MAC, the serial console to a file) and one writable
qcow2 disk on IDE, which the guest sees as /dev/sda.

The NIC is a tap that the lab made on the host's br0 and that libvirt
opens by name (<interface type='ethernet'> with managed='no'): libvirt's
network driver is not needed, and the lab keeps the tap's name (tap0) the
colo-nic scripts know. nic='bridge' lets libvirt make the tap on br0
itself instead.
"""

import os
import xml.etree.ElementTree as ET

from .qemu import GUEST_MAC, kernel_cmdline

NAME = "colo-lab"
IMAGE = "/var/lib/libvirt/images/colo-lab.qcow2"
SERIAL = "/var/log/libvirt/qemu/colo-lab-serial.log"


def _sub(parent, tag, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _os(dom, guest, dirty_kbps, records):
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="pc")
    _sub(os_el, "kernel", os.path.join(guest, "vmlinuz"))
    _sub(os_el, "initrd", os.path.join(guest, "initrd.img"))
    _sub(os_el, "cmdline", kernel_cmdline(dirty_kbps, records))


def _disk(devices, image):
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2")
    _sub(disk, "source", file=image)
    _sub(disk, "target", dev="hda", bus="ide")


def _interface(devices, nic, tap, bridge):
    iface = _sub(devices, "interface", type=nic)
    _sub(iface, "mac", address=GUEST_MAC)
    if nic == "bridge":
        _sub(iface, "source", bridge=bridge)
        _sub(iface, "target", dev=tap)
    else:
        _sub(iface, "target", dev=tap, managed="no")
    _sub(iface, "model", type="e1000")
    # QEMU's own net backend: no vhost (COLO's filters need the tap in QEMU)
    _sub(iface, "driver", name="qemu")


def _fault_tolerance(dom, period_ms, peer_timeout_ms):
    """COLO with colo-compare in iothread 1."""
    ft = _sub(dom, "faultTolerance", type="colo")
    _sub(ft, "checkpoint", period=period_ms, peerTimeout=peer_timeout_ms)
    _sub(ft, "proxy", type="compare", iothread="1")


def domain_xml(qemu, guest, dirty_kbps=0, records=False, name=NAME, image=IMAGE,
               serial=SERIAL, nic="ethernet", tap="tap0", bridge="br0",
               colo_period_ms=None, colo_peer_timeout_ms=10000):
    """The domain's XML text; paths are as the daemon's host sees them.
    colo_period_ms: a fault tolerant domain (COLO) with that checkpoint
    period."""
    dom = ET.Element("domain", type="qemu")
    _sub(dom, "name", name)
    _sub(dom, "memory", "256", unit="MiB")
    _sub(dom, "vcpu", "1")
    if colo_period_ms:
        _sub(dom, "iothreads", "1")
    _os(dom, guest, dirty_kbps, records)
    _sub(_sub(dom, "features"), "acpi")
    _sub(dom, "clock", offset="utc")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    _sub(devices, "emulator", os.path.abspath(qemu))
    _disk(devices, image)
    _interface(devices, nic, tap, bridge)
    serial_el = _sub(devices, "serial", type="file")
    _sub(serial_el, "source", path=serial)
    _sub(serial_el, "target", port="0")
    _sub(devices, "controller", type="usb", model="none")
    _sub(devices, "memballoon", model="none")
    if colo_period_ms:
        _fault_tolerance(dom, colo_period_ms, colo_peer_timeout_ms)
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode") + "\n"
