"""One libvirtd per lab host: the monolithic daemon of an uninstalled
libvirt build, started in the host's network namespace and in a mount
namespace of its own, where libvirt's directories are per-run directories
of the lab:

  <rundir>/libvirt-<host>/etc    on /etc/libvirt       (libvirtd.conf, qemu.conf)
                          run    on /run/libvirt       (sockets, pid files)
                          lib    on /var/lib/libvirt   (images/, qemu/)
                          log    on /var/log/libvirt   (libvirtd.log, qemu/)
                          cache  on /var/cache/libvirt (capabilities)

A directory that does not exist on this machine (no libvirt installed)
is created inside the mount namespace only, in an overlay of its parent
whose upper layer is a tmpfs; /etc gets one too, for the build's QEMU
account (_qemu_account): nothing is written outside the run directory.
The two daemons share no state; each has its own host UUID and hostname
(UTS namespace), which libvirt's migration compares.

virsh runs in the root namespace and reaches a daemon through the socket
in its run/ directory (uri), by a short link in /tmp, since a run
directory can be too deep for a socket path (108 bytes); the daemons
reach each other over ft0 (remote_uri: TCP without authentication, lab
only).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from .topology import PRIMARY_FT_IP, SECONDARY_FT_IP, LabError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEFAULT_BUILD = os.path.join(REPO, "build", "libvirt", "build")
DIRS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
        "log": "/var/log/libvirt", "cache": "/var/cache/libvirt"}
# The build's QEMU_USER and QEMU_GROUP (Debian's), see _qemu_account()
QEMU_ACCOUNT, QEMU_ACCOUNT_ID = "libvirt-qemu", 64055
# Everything at debug level but the chattiest modules (libvirt's advice)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+\d{4}: \d+: ")
LOG_FILTERS = ("3:remote 4:event 3:util.json 3:util.object 3:util.dbus "
               "3:util.netlink 3:node_device 3:rpc 3:access 1:*")


def build_env(build, qemu=None):
    """The environment of libvirt's `run` wrapper for the uninstalled
    build; with qemu, its directory first on PATH, so that libvirt's host
    capabilities list the colo-ft QEMU."""
    env = dict(os.environ, LIBVIRT_DIR_OVERRIDE="1",
               abs_builddir=build, abs_top_builddir=build)
    env["LD_LIBRARY_PATH"] = ":".join(
        p for p in (os.path.join(build, "src"), os.environ.get("LD_LIBRARY_PATH")) if p)
    path = [os.path.join(build, "src"), os.path.join(build, "tools")]
    if qemu:
        path.insert(0, os.path.dirname(os.path.abspath(qemu)))
    env["PATH"] = ":".join(path + [os.environ.get("PATH", "/usr/bin:/bin")])
    return env


def check_build(build):
    """One clear error when the libvirt build lacks what the lab runs."""
    for rel in ("src/libvirtd", "tools/virsh", "src/libvirt_driver_qemu.so"):
        if not os.path.exists(os.path.join(build, rel)):
            raise LabError(f"libvirt build {build} has no {rel}: run 'make libvirt'")


def libvirtd_conf(listen_ip, host_uuid):
    return (f'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "{listen_ip}"\n'
            'auth_tcp = "none"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
            f'host_uuid = "{host_uuid}"\n'
            'log_outputs = "1:file:/var/log/libvirt/libvirtd.log"\n'
            f'log_filters = "{LOG_FILTERS}"\n')


def qemu_conf(ft_ip):
    """QEMU runs as the build's QEMU user (libvirt gives it its files),
    unconfined, without cgroups, a /dev of its own or virtlogd; migrations
    arrive on ft_ip."""
    return (f'user = "{QEMU_ACCOUNT}"\ngroup = "{QEMU_ACCOUNT}"\n'
            'dynamic_ownership = 1\nremember_owner = 0\n'
            'security_driver = "none"\nstdio_handler = "file"\n'
            'cgroup_controllers = [ ]\nnamespaces = [ ]\n'
            f'migration_address = "{ft_ip}"\nmigration_host = "{ft_ip}"\n')


def _overlay(upper, parent):
    layer = shlex.quote(os.path.join(upper, parent.strip("/").replace("/", "-")))
    return [f"mkdir -p {layer}/u {layer}/w",
            f"mount -t overlay lab-overlay -o lowerdir={parent},"
            f"upperdir={layer}/u,workdir={layer}/w {parent}"]


def _qemu_account():
    """The build's default QEMU user and group in the namespace's /etc:
    the qemu driver resolves them before it reads qemu.conf
    (virQEMUDriverConfigNew in src/qemu/qemu_conf.c), and refuses to
    start when they do not exist, even with user = "root"."""
    return [f"getent group {QEMU_ACCOUNT} >/dev/null || "
            f"echo '{QEMU_ACCOUNT}:x:{QEMU_ACCOUNT_ID}:' >>/etc/group",
            f"getent passwd {QEMU_ACCOUNT} >/dev/null || "
            f"echo '{QEMU_ACCOUNT}:x:{QEMU_ACCOUNT_ID}:{QEMU_ACCOUNT_ID}:lab:"
            "/var/lib/libvirt:/usr/sbin/nologin' >>/etc/passwd"]


def mount_script(base):
    """Shell commands that put base's directories over libvirt's. /etc,
    and the parent of a missing mount point, get an overlay (upper layer
    on a tmpfs), so the machine's own /etc and /var stay untouched."""
    upper = os.path.join(base, ".upper")
    lines = ["set -e", f"mount -t tmpfs lab-upper {shlex.quote(upper)}"]
    lines += _overlay(upper, "/etc") + _qemu_account()
    # No KVM for the daemon (the lab runs TCG): an unusable /dev/kvm makes
    # libvirt re-probe QEMU on every call, since the unprivileged QEMU
    # user and the daemon disagree on whether KVM works
    lines += [f"touch {shlex.quote(upper)}/no-kvm", f"chmod 000 {shlex.quote(upper)}/no-kvm",
              f"if [ -e /dev/kvm ]; then mount --bind {shlex.quote(upper)}/no-kvm /dev/kvm; fi"]
    overlaid = {"/etc"}
    for key, target in DIRS.items():
        parent = os.path.dirname(target)
        if not os.path.isdir(target) and parent not in overlaid:
            lines += _overlay(upper, parent)
            overlaid.add(parent)
        lines += [f"mkdir -p {target}",
                  f"mount --bind {shlex.quote(os.path.join(base, key))} {target}"]
    return lines


def _read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().strip().splitlines()
    except FileNotFoundError:
        return []


class LibvirtHost:
    """libvirtd for the lab host `name` (network namespace netns, ft0
    address ft_ip); start() runs it, stop() ends it and its guests."""

    def __init__(self, name, netns, ft_ip, build, qemu, rundir):
        self.name = name
        self.netns = netns
        self.ft_ip = ft_ip
        self.build = os.path.abspath(build)
        self.qemu = os.path.abspath(qemu)
        self.dir = os.path.join(os.path.abspath(rundir), f"libvirt-{name}")
        self.link_dir = tempfile.mkdtemp(prefix=f"colo-lab-{name}-")
        os.symlink(os.path.join(self.dir, "run"), os.path.join(self.link_dir, "run"))
        self.socket = os.path.join(self.link_dir, "run", "libvirt-sock")
        self.uri = f"qemu+unix:///system?socket={self.socket}"
        self.remote_uri = f"qemu+tcp://{ft_ip}/system"
        self.env = build_env(self.build, self.qemu)
        self.proc = None
        self.slow_shutdown = None  # what the log said when a restart was slow

    def path(self, key, *rest):
        """Where the daemon's DIRS[key]/rest is, seen from the root namespace."""
        return os.path.join(self.dir, key, *rest)

    def _write_config(self):
        for key in list(DIRS) + [".upper"]:
            os.makedirs(os.path.join(self.dir, key), exist_ok=True)
        # What libvirt's packages install and its daemon does not create
        for sub in (("lib", "images"), ("lib", "qemu"), ("log", "qemu"), ("cache", "qemu")):
            os.makedirs(self.path(*sub), exist_ok=True)
        if os.path.exists(self.path("etc", "libvirtd.conf")):
            return  # a restart keeps the host's identity
        with open(self.path("etc", "libvirtd.conf"), "w") as f:
            f.write(libvirtd_conf(self.ft_ip, uuid.uuid4()))
        with open(self.path("etc", "qemu.conf"), "w") as f:
            f.write(qemu_conf(self.ft_ip))

    def start(self, timeout=60.0):
        check_build(self.build)
        self._write_config()
        script = mount_script(self.dir) + [
            f"hostname lab-{self.name}",
            f"exec {shlex.quote(self.build)}/src/libvirtd --listen "
            "-f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid"]
        self._stderr = open(os.path.join(self.dir, "libvirtd-stderr.log"), "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--uts",
             "--propagation", "private", "sh", "-c", "\n".join(script)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=subprocess.STDOUT)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"libvirtd on {self.name} exited "
                               f"(status {self.proc.returncode}): {self.log_tail()}")
            if os.path.exists(self.socket) and \
                    self.virsh("version", check=False, timeout=60).returncode == 0:
                return
            time.sleep(0.3)
        raise LabError(f"libvirtd on {self.name} not answering after {timeout:.0f} s: "
                       f"{self.log_tail()}")

    def log_tail(self, lines=2):
        """Why the daemon failed: what it printed that is not a log line
        (e.g. a pid file it could not take), else the last error lines of
        its log, else the last lines it wrote."""
        printed = _read_lines(os.path.join(self.dir, "libvirtd-stderr.log"))
        plain = [line for line in printed if not LOG_LINE.match(line)]
        errors = [line.split(" : ", 2)[-1] for line in
                  _read_lines(self.path("log", "libvirtd.log")) if " error : " in line]
        text = plain[-1:] or errors[-lines:] or printed[-lines:]
        return " | ".join(line.strip() for line in text) or "no output"

    def virsh(self, *args, check=True, timeout=120.0):
        """virsh against this daemon; the completed process."""
        cmd = [os.path.join(self.build, "tools", "virsh"), "-q", "-c", self.uri, *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"virsh {' '.join(args)} on {self.name}: "
                           f"no answer in {timeout:.0f} s") from exc
        if check and proc.returncode != 0:
            err = " ".join(line.strip() for line in
                           (proc.stderr or proc.stdout).splitlines() if line.strip())
            raise LabError(f"virsh {' '.join(args)} on {self.name}: "
                           f"{err or proc.returncode}")
        return proc

    def restart(self, timeout=60.0):
        """End the daemon (SIGTERM) and start it again; its guests run on.
        Returns the seconds the daemon took to end."""
        log = self.path("log", "libvirtd.log")
        offset = os.path.getsize(log) if os.path.exists(log) else 0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._dump_stacks("shutdown-stacks.txt")
        try:
            self.proc.wait(timeout=55)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"libvirtd on {self.name} did not end on SIGTERM: "
                           f"{self.shutdown_notes(log, offset)}") from exc
        ended_s = time.monotonic() - t0
        if ended_s > 5:
            self.slow_shutdown = self.shutdown_notes(log, offset)
        self._stderr.close()
        self.start(timeout)
        return ended_s

    def _dump_stacks(self, name):
        """The daemon's thread stacks (gdb, when installed) into name in
        its directory: what a slow shutdown waits for."""
        if not shutil.which("gdb"):
            return
        with open(os.path.join(self.dir, name), "w") as out:
            try:
                subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                                "-ex", "thread apply all bt"],
                               stdout=out, stderr=subprocess.STDOUT, timeout=120,
                               check=False)
            except subprocess.TimeoutExpired:
                out.write("gdb did not finish in 120 s\n")

    @staticmethod
    def shutdown_notes(log, offset, lines=6):
        """What the daemon's log says it waited for since offset: its
        warnings, errors and waits for jobs."""
        try:
            with open(log, errors="replace") as f:
                f.seek(offset)
                found = [line.strip() for line in f
                         if re.search(r" (warning|error) : |Waiting for|shutdown", line)]
        except FileNotFoundError:
            return "no log"
        return " | ".join(found[-lines:]) or "nothing in its log"

    def watch_events(self, lab):
        """`virsh event --all --loop` into events.log of this host, until
        the lab ends; returns a function that reads what it printed."""
        path = os.path.join(self.dir, "events.log")
        out = open(path, "w")
        proc = subprocess.Popen([os.path.join(self.build, "tools", "virsh"), "-q", "-c",
                                 self.uri, "event", "--all", "--loop"],
                                stdout=out, stderr=subprocess.STDOUT, env=self.env)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            out.close()
        lab.cleanups.append(stop)

        def read():
            with open(path, errors="replace") as f:
                return f.read()
        return read

    def running(self):
        """Names of the running domains."""
        out = self.virsh("list", "--name", check=False, timeout=30).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def stop(self):
        """Destroy the guests, end the daemon (SIGTERM, then SIGKILL), and
        kill any QEMU it left. Never raises: it runs at the lab's exit."""
        shutil.rmtree(self.link_dir, ignore_errors=True)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                for dom in self.running():
                    self.virsh("destroy", dom, check=False, timeout=30)
            except LabError:
                pass  # the daemon hangs: its QEMUs are killed below
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._kill_leftover_qemu()
        self._stderr.close()
        self.proc = None

    def kill_qemu(self, domain=None):
        """SIGKILL to the QEMU of domain (default: every QEMU whose pid
        file the daemon has), as if its host died; the number killed."""
        piddir = self.path("run", "qemu")
        if not os.path.isdir(piddir):
            return 0
        killed = 0
        for entry in os.listdir(piddir):
            if not entry.endswith(".pid") or (domain and entry != f"{domain}.pid"):
                continue
            try:
                with open(os.path.join(piddir, entry)) as f:
                    pid = int(f.read().strip())
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"qemu" not in f.read():
                        continue
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (OSError, ValueError):
                continue
        return killed

    def _kill_leftover_qemu(self):
        self.kill_qemu()


def start_hosts(lab, build):
    """A daemon on the lab's primary and secondary hosts, each with a
    tap0 on its br0; {name: LibvirtHost}. The lab stops them at its exit."""
    topo = lab.topology
    hosts = {}
    for name, ns, ip in (("primary", topo.primary, PRIMARY_FT_IP),
                         ("secondary", topo.secondary, SECONDARY_FT_IP)):
        host = LibvirtHost(name, ns, ip, build, lab.qemu, lab.rundir)
        lab.cleanups.append(host.stop)
        host.start()
        topo.add_tap(ns)
        hosts[name] = host
    lab.event(f"libvirtd running on both hosts ({hosts['primary'].uri}, "
              f"{hosts['secondary'].uri})")
    return hosts
