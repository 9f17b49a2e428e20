"""The keeper of the app ``relay workflow dev`` runs (POSIX): ``python -m relay_cli.simulator.keeper GRACE
COMMAND``, started by relay in a session of its own, in the app's directory and with the app's environment.

It runs COMMAND with /bin/sh, as a process group of its own, and stays the parent of everything the app
starts until none of it is left:

- on Linux it is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): a process the app started that
  outlives its parent (a detached child, a daemon that forked twice, one that called setsid) becomes the
  keeper's child instead of init's, so it is still found among the keeper's descendants (/proc);
- its stdin is a pipe whose other end only relay holds: end-of-file there (relay closed it to stop the app, or
  relay ended in any way, SIGKILL and the OOM killer included) stops everything;
- stopping is SIGTERM to the app's process group and to every descendant, then, after GRACE seconds, SIGKILL
  to whatever is left, until nothing is;
- when the app's command exits by itself, whatever it left running is stopped the same way, and the keeper
  exits with the command's status (128 + N for a signal N, as a shell reports it).

Elsewhere (macOS, the BSDs: no subreaper, no /proc) the app's process group is what is stopped; a process that
left it (setsid, ``detached: true``) is not reached. Only the standard library is used, and nothing of relay is
imported: this runs next to the app, apart from relay.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
#: how long SIGKILL is repeated for processes that are still there (one in uninterruptible sleep can outlast it)
KILL_BOUND = 5.0


def become_subreaper() -> bool:
    """Linux: orphans of the app's processes are re-parented to this process rather than to init."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> set[int] | None:
    """The living (not zombie) processes below ``root``, from /proc; None where there is no /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    children: dict[int, list[int]] = {}
    living: set[int] = set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        if fields[0] != b"Z":
            living.add(pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found & living


class Keeper:
    def __init__(self, command: str, grace: float) -> None:
        self.command, self.grace = command, grace
        self.status: int | None = None  # the command's wait status, once it exited
        self.stop_asked = False
        self.wake_r, wake_w = os.pipe()  # the signal handlers' wakeup: select() returns when a signal came
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler, so that SIGCHLD wakes select()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._asked_to_stop)
        self.proc_fs = os.path.isdir("/proc/self")
        become_subreaper()
        # posix_spawn, not subprocess (whose import would be most of this program's start-up): the app in a
        # process group of its own, reading /dev/null, not relay's pipe; the signals Python ignores (SIGPIPE,
        # SIGXFSZ) back to their defaults, as subprocess does, and this program's handlers are reset by exec
        self.app = os.posix_spawn(
            "/bin/sh",
            ["/bin/sh", "-c", command],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)],
            setpgroup=0,
            setsigdef=[getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)],
        )

    def _asked_to_stop(self, signum: int, frame: object) -> None:
        self.stop_asked = True

    def reap(self) -> None:
        """Collect every child that ended (orphans of the app's processes are children too)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.app:
                self.status = status

    def wait(self, seconds: float | None) -> None:
        """Until a signal comes (a child ended, a stop) or ``seconds`` pass."""
        select.select([self.wake_r], [], [], seconds)
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def run(self) -> int:
        control = sys.stdin.fileno()
        while True:
            self.reap()
            if self.status is not None or self.stop_asked:
                break
            ready, _, _ = select.select([control, self.wake_r], [], [])
            if control in ready and not os.read(control, 512):
                break  # end-of-file: relay is done with the app, or relay is gone
            if self.wake_r in ready:
                self.wait(0)
        self.stop_all()
        if self.status is None:
            return 0
        code = os.waitstatus_to_exitcode(self.status)
        return 128 - code if code < 0 else code

    def living(self) -> set[int]:
        """The processes left: every descendant where /proc says; else the app's group, while it has any."""
        found = descendants(os.getpid()) if self.proc_fs else None
        if found is not None:
            return found
        try:
            os.killpg(self.app, 0)
        except ProcessLookupError:
            return set()
        except PermissionError:
            pass
        return {self.app}

    def signal_all(self, sig: int, pids: set[int]) -> None:
        try:
            os.killpg(self.app, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def stop_all(self) -> None:
        """SIGTERM to everything the app started, SIGKILL to what is left after the grace period."""
        left = self.living()
        self.signal_all(signal.SIGTERM, left)
        told = set(left)
        deadline = time.monotonic() + self.grace
        while True:
            self.reap()
            left = self.living()
            if not left:
                return
            if time.monotonic() >= deadline:
                break
            if left - told:  # started meanwhile
                self.signal_all(signal.SIGTERM, left - told)
                told |= left
            self.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        deadline = time.monotonic() + KILL_BOUND
        while left and time.monotonic() < deadline:
            self.signal_all(signal.SIGKILL, left)
            self.wait(0.02)
            self.reap()
            left = self.living()
        self.reap()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m relay_cli.simulator.keeper GRACE COMMAND", file=sys.stderr)
        return 2
    try:
        keeper = Keeper(argv[1], float(argv[0]))
    except OSError as exc:
        print(f"cannot start /bin/sh: {exc.strerror or exc}", file=sys.stderr)
        return 127
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
