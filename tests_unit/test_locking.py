"""Board locks across processes: a second run waits, then fails naming the holder; a dead holder
never leaves the board locked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.boards.locking import BoardBusy, BoardLock, lock_key

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from harness.boards.locking import BoardLock

    lock = BoardLock(sys.argv[1], port="/dev/ttyACM0", timeout=5, directory=Path(sys.argv[2]))
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
    lock.release()
    print("released", flush=True)
    """
)


def start_holder(key: str, directory: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, key, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_fails_naming_the_holder_then_gets_the_board(tmp_path):
    holder = start_holder("SERIAL123", tmp_path)
    try:
        waiter = BoardLock("SERIAL123", port="/dev/ttyACM0", timeout=0.3, directory=tmp_path)
        with pytest.raises(BoardBusy) as err:
            waiter.acquire()
        msg = str(err.value)
        assert err.value.category == "timeout"
        assert f"pid {holder.pid}" in msg and "(port /dev/ttyACM0)" in msg
        assert "-c" in msg  # the holder's command line
        assert "--board-serial" in msg and "TFLM_HIL_LOCK_TIMEOUT" in msg
        # another board is not blocked by this one
        with BoardLock("OTHER", timeout=0.3, directory=tmp_path):
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    with BoardLock("SERIAL123", timeout=5, directory=tmp_path) as lock:
        holder_note = lock.read_holder()
        assert holder_note is not None and holder_note.port == ""
    assert not (tmp_path / "SERIAL123.holder.json").exists()  # removed on release


def test_a_killed_holder_releases_the_board(tmp_path):
    holder = start_holder("KILLED", tmp_path)
    holder.kill()
    holder.wait(timeout=30)
    lock = BoardLock("KILLED", timeout=5, directory=tmp_path)
    lock.acquire()  # the OS dropped the dead process's lock; its stale note is replaced
    assert lock.held
    note = lock.read_holder()
    assert note is not None and note.pid != holder.pid
    lock.release()
    assert not lock.held


def test_lock_keys_are_file_safe():
    assert lock_key("0123ABCD", "/dev/ttyACM0") == "0123ABCD"
    assert lock_key(None, "/dev/ttyACM0") == "port-_dev_ttyACM0"
    assert lock_key("a/b c", "x") == "a_b_c"
