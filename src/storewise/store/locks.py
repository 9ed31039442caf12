"""One writer at a time on an SQLite file, across processes: a blocking ``flock`` on a lock file
next to the database, held around each write transaction.

SQLite's busy handler sleep-polls (1, 2, 5, 10, 25, 50, 100 ms) while another connection holds
the write lock, so a waiting writer can sleep long after the lock was freed; a kernel lock
wakes the next writer as soon as the holder lets go. Readers never take it (WAL readers do not
block writers), so it cannot deadlock with them; writers that skip it (migrations, API keys)
still meet SQLite's busy timeout, the backstop. The lock is re-entrant per thread, released on
any exception, and released by the kernel if its process dies.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storewise.errors import StoreError

_registry_guard = threading.Lock()
_thread_locks: dict[Path, threading.Lock] = {}
_held = threading.local()


def _thread_lock(path: Path) -> threading.Lock:
    with _registry_guard:
        return _thread_locks.setdefault(path, threading.Lock())


class WriteLock:
    """The writer lock of one database file; ``hold()`` is a context manager."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._threads = _thread_lock(path)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the block (at once if this thread already holds it)."""
        held: set[Path] | None = getattr(_held, "paths", None)
        if held is None:
            held = _held.paths = set()
        if self.path in held:
            yield
            return
        # Threads of this process queue on an in-process lock, so only one of them waits on
        # the file lock at a time; both waits are blocking and wake on release.
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise self._busy()
        try:
            fd = self._acquire_file(max(0.0, deadline - time.monotonic()))
            held.add(self.path)
            try:
                yield
            finally:
                held.discard(self.path)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._threads.release()

    def _busy(self) -> StoreError:
        return StoreError(
            f"the store is busy: another write held it for more than {self.timeout:g} s"
        )

    def _acquire_file(self, timeout: float) -> int:
        """A descriptor of the lock file holding an exclusive flock (waits up to the timeout)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open the store's write lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        # Contended: wait in a helper thread (a blocking flock cannot time out by itself), so
        # the caller can give up after the timeout; a late grant is then released at once.
        granted = threading.Event()
        state = {"abandoned": False, "failed": False}
        guard = threading.Lock()  # the grant and the giving up are decided under it

        def wait() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                failed = True
            else:
                failed = False
            with guard:
                if state["abandoned"]:
                    os.close(fd)  # releases a late grant
                    return
                state["failed"] = failed
                granted.set()

        threading.Thread(target=wait, name="storewise-write-lock", daemon=True).start()
        granted.wait(timeout)
        with guard:
            if not granted.is_set():
                state["abandoned"] = True
                raise self._busy()
        if state["failed"]:
            os.close(fd)
            raise StoreError(f"cannot lock the store's write lock {self.path}")
        return fd
