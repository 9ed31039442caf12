"""The SQLite cross-process write lock: writers queue and wake at release, readers never wait,
exceptions and timeouts release it, and a thread may re-enter it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from storewise.errors import StoreError
from storewise.store import SqlStore
from storewise.store.locks import WriteLock
from storewise.testing.fixtures import tiny_events


def _is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = SqlStore.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def test_a_waiting_writer_in_another_process_wakes_at_release(
    store: SqlStore, tmp_path: Path
) -> None:
    lock = tmp_path / "store.db.lock"
    released = tmp_path / "released"
    holder = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from storewise.store import SqlStore
        store = SqlStore.open("sqlite:///{tmp_path / "store.db"}")
        with store.writer() as writer:
            writer.audit("test", "hold", None)
            Path("{tmp_path / "held"}").touch()
            time.sleep(0.5)
            stamp = time.time()
        Path("{released}").write_text(repr(stamp))
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "held").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        assert not _is_free(lock)
        started = time.monotonic()
        assert store.stats()["events"]["total"] == 0  # a reader does not wait for the writer
        assert time.monotonic() - started < 0.3
        with store.writer() as writer:
            writer.add_events(tiny_events())  # waits for the holder, one way or the other
            written = time.time()
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    # woke right after the holder's commit: no 100 ms sleep-poll steps
    assert written - float(released.read_text()) < 0.08
    assert store.stats()["events"]["total"] == 11
    assert _is_free(lock)


def test_an_exception_releases_the_lock(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.writer() as writer:
        writer.add_events(tiny_events())
        assert not _is_free(tmp_path / "store.db.lock")
        raise RuntimeError("failed half way")
    assert _is_free(tmp_path / "store.db.lock")
    assert store.stats()["events"]["total"] == 0


def test_threads_take_turns_and_a_thread_may_re_enter(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "x.lock", timeout=10)
    inside, most = 0, 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with lock.hold(), lock.hold():  # re-entry by the holder does not wait for itself
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert _is_free(tmp_path / "x.lock")


def test_a_writer_gives_up_after_the_timeout_and_a_late_grant_is_released(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.lock"
    other = os.open(path, os.O_RDWR | os.O_CREAT)  # another holder (as another process would)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="busy"), WriteLock(path, timeout=0.2).hold():
            pass
        assert 0.15 < time.monotonic() - started < 2
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    deadline = time.monotonic() + 5
    while not _is_free(path):  # the abandoned waiter got it late and let go at once
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with WriteLock(path, timeout=1).hold():
        assert not _is_free(path)


def test_in_memory_stores_have_no_lock_file(tmp_path: Path) -> None:
    store = SqlStore.open("sqlite://")
    try:
        with store.writer() as writer:
            writer.add_events(tiny_events())
        assert store._write_lock is None
    finally:
        store.close()
