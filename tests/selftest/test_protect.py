"""Unit tests for protecting a running guest: the guest pause from QMP
events (colo_lab.protect), the verdict on the disk records
(colo_lab.protection) and the proxy objects rendered for the command line
and for QMP (colo_lab.qemu), from fake inputs."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))

from colo_lab import qemu as q  # noqa: E402
from colo_lab.protect import guest_pause_ms, pause_phases_ms  # noqa: E402
from colo_lab.protection import _pause_check, check_records  # noqa: E402
from colo_lab.topology import LabError  # noqa: E402


def event(name, t, **data):
    ev = {"event": name, "timestamp": {"seconds": int(t),
                                       "microseconds": round((t % 1) * 1e6)}}
    if data:
        ev["data"] = data
    return (t, ev)


def migration(status, t):
    return event("MIGRATION", t, status=status)


class FakeVM:
    def __init__(self, events):
        self.name = "vm"
        self.qmp = type("QMP", (), {"events": events})()


class GuestPauseTest(unittest.TestCase):
    def test_first_stop_to_its_resume(self):
        """The switchover's stop, not a later checkpoint's"""
        vm = FakeVM([event("STOP", 10.0), event("RESUME", 10.5),
                     event("STOP", 20.0), event("RESUME", 20.06),
                     event("STOP", 21.0), event("RESUME", 21.5), event("STOP", 22.0)])
        self.assertEqual(guest_pause_ms(vm, 15.0), 60.0)

    def test_events_before_since_ignored(self):
        vm = FakeVM([event("STOP", 10.0), event("RESUME", 20.0)])
        with self.assertRaises(LabError):
            guest_pause_ms(vm, 15.0)

    def test_stop_without_resume(self):
        vm = FakeVM([event("STOP", 20.0)])
        with self.assertRaises(LabError):
            guest_pause_ms(vm, 15.0)


class PausePhasesTest(unittest.TestCase):
    def test_stop_handover_switchover(self):
        vm = FakeVM([migration("active", 10.0), event("STOP", 20.0),
                     migration("pre-switchover", 20.2), migration("device", 20.25),
                     migration("colo", 20.3), event("RESUME", 20.35)])
        self.assertEqual(pause_phases_ms(vm, 15.0),
                         {"stop": 200.0, "handover": 50.0, "switchover": 100.0})

    def test_an_earlier_protection_ignored(self):
        vm = FakeVM([event("STOP", 10.0), migration("pre-switchover", 10.1),
                     migration("device", 12.0), event("RESUME", 12.1),
                     event("STOP", 20.0), migration("pre-switchover", 20.1),
                     migration("device", 20.2), event("RESUME", 20.3),
                     event("STOP", 25.0), event("RESUME", 25.05)])
        self.assertEqual(pause_phases_ms(vm, 15.0),
                         {"stop": 100.0, "handover": 100.0, "switchover": 100.0})

    def test_without_migration_events(self):
        vm = FakeVM([event("STOP", 20.0), event("RESUME", 20.3)])
        with self.assertRaises(LabError):
            pause_phases_ms(vm, 15.0)


class PauseCheckTest(unittest.TestCase):
    def verdict(self, stop, handover, switchover, limit=0):
        failures = []
        _pause_check({"pause_ms": stop + handover + switchover,
                      "pause_phases_ms": {"stop": stop, "handover": handover,
                                          "switchover": switchover},
                      "downtime_limit_ms": 300}, limit, failures)
        return failures

    def test_the_stop_is_reported_only(self):
        self.assertEqual(self.verdict(600, 10, 100), [])

    def test_a_handover_over_the_downtime_limit(self):
        self.assertTrue(self.verdict(10, 301, 10))

    def test_a_switchover_over_the_downtime_limit(self):
        self.assertTrue(self.verdict(10, 10, 301))

    def test_a_limit_of_the_run(self):
        self.assertTrue(self.verdict(0, 0, 150, limit=100))


def records(written, present=None, gap=0, misplaced=0):
    return {"written": written, "present": written if present is None else present,
            "first_gap": gap, "misplaced": misplaced}


class RecordsTest(unittest.TestCase):
    def verdict(self, rec, seen_before):
        failures = []
        check_records("survivor", rec, seen_before, failures)
        return failures

    def test_intact(self):
        self.assertEqual(self.verdict(records(120), 100), [])

    def test_gap(self):
        self.assertTrue(self.verdict(records(120, 119, gap=57), 100))

    def test_misplaced(self):
        self.assertTrue(self.verdict(records(120, misplaced=1), 100))

    def test_fewer_than_a_client_saw(self):
        self.assertTrue(self.verdict(records(90), 100))


class ProxyObjectsTest(unittest.TestCase):
    def test_server_socket(self):
        sock = q.Socket("compare1", "10.0.0.1", 9004, server=True, wait=True)
        self.assertEqual(sock.arg(), ["-chardev", "socket,id=compare1,host=10.0.0.1,"
                                                  "port=9004,server=on,wait=on"])
        # chardev-add never blocks the monitor waiting for the client
        self.assertEqual(sock.qmp()["backend"]["data"]["wait"], False)
        self.assertEqual(sock.qmp()["backend"]["data"]["addr"]["data"],
                         {"host": "10.0.0.1", "port": "9004"})

    def test_client_socket(self):
        sock = q.Socket("red0", "10.0.0.1", 9003, reconnect_ms=1000)
        self.assertEqual(sock.arg(), ["-chardev", "socket,id=red0,host=10.0.0.1,"
                                                  "port=9003,reconnect-ms=1000"])
        self.assertNotIn("wait", sock.qmp()["backend"]["data"])

    def test_object(self):
        obj = q.Obj("filter-mirror", "m0", {"netdev": "hn0", "queue": "tx"})
        self.assertEqual(obj.arg(), ["-object", "filter-mirror,id=m0,netdev=hn0,queue=tx"])
        self.assertEqual(obj.qmp(), {"qom-type": "filter-mirror", "id": "m0",
                                     "netdev": "hn0", "queue": "tx"})

    def test_the_primary_listens_where_the_secondary_connects(self):
        ip = "10.0.0.1"
        listening = {(p.host, p.port) for p in q.compare_primary_proxy(ip)
                     if isinstance(p, q.Socket) and p.server}
        connecting = {(p.host, p.port) for p in q.compare_secondary_proxy(ip)
                      if isinstance(p, q.Socket)}
        self.assertLessEqual(connecting, listening)


if __name__ == "__main__":
    unittest.main()
