"""colo-ft lab: a COLO pair of real QEMU processes in network namespaces."""
