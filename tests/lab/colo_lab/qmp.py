"""A small QMP client over a unix socket (Python standard library only)."""

import json
import os
import socket
import time


class QMPError(Exception):
    """A QMP command answered with an error, or the monitor went away."""


class QMP:
    """One QMP connection. Events are kept in self.events as
    (host time, event dict), in the order they arrived."""

    def __init__(self, path, name, connect_timeout=60.0, alive=None):
        self.name = name
        self.events = []
        self._commands = None   # has_command(): asked at its first call
        self._sock = self._connect(path, connect_timeout, alive)
        self._file = self._sock.makefile("r", encoding="utf-8")
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"{name}: no QMP greeting on {path}")
        self.cmd("qmp_capabilities")

    def _connect(self, path, timeout, alive):
        deadline = time.monotonic() + timeout
        while True:
            if alive is not None and not alive():
                raise QMPError(f"{self.name}: QEMU exited before its monitor came up")
            if os.path.exists(path):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)
                    return sock
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                raise QMPError(f"{self.name}: no QMP monitor at {path} after {timeout:.0f} s")
            time.sleep(0.05)

    def _read(self, timeout=120.0):
        self._sock.settimeout(timeout)
        try:
            line = self._file.readline()
        except (OSError, socket.timeout) as exc:
            raise QMPError(f"{self.name}: monitor read failed: {exc}") from exc
        if not line:
            raise QMPError(f"{self.name}: monitor closed")
        return json.loads(line)

    def cmd(self, command, timeout=120.0, **arguments):
        """Run a command; return its 'return' value or raise QMPError."""
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as exc:
            raise QMPError(f"{self.name}: {command}: {exc}") from exc
        while True:
            resp = self._read(timeout)
            if "event" in resp:
                self.events.append((time.time(), resp))
            elif "error" in resp:
                raise QMPError(f"{self.name}: {command}: {resp['error']['desc']}")
            elif "return" in resp:
                return resp["return"]

    def has_command(self, command):
        """Whether this QEMU has command (asked once per connection)."""
        if self._commands is None:
            self._commands = {c["name"] for c in self.cmd("query-commands")}
        return command in self._commands

    def hmp(self, command_line, timeout=120.0):
        out = self.cmd("human-monitor-command", timeout=timeout,
                       **{"command-line": command_line})
        if out.strip():
            raise QMPError(f"{self.name}: {command_line}: {out.strip()}")
        return out

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
