"""One study run per output directory: a lock file created atomically, removed on exit.

:func:`folder_lock` creates ``<dir>/polarlab.lock`` with ``O_CREAT | O_EXCL`` (the
operating system creates it for exactly one of two racing processes) and writes the
holder's process id, host and start time into it. A second run into the same
directory finds the file and fails at once with a :class:`FolderLockedError` naming
the holder; a lock whose process is gone (killed with ``SIGKILL``, a power loss) is
reported as stale, with the command that removes it, rather than taken over
silently: only the user knows that no other machine writes to a shared directory.

The lock is held per process and re-entrant: the ``polarlab`` command holds it for a
whole command, and the studies it calls (which lock their directory themselves, for
library callers) enter it again. Threads of one process share it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "FolderLockedError", "folder_lock"]

#: Name of the lock file in an output directory.
LOCK_NAME = "polarlab.lock"

# Directories locked by this process -> nesting depth. A lock file naming this
# process's id but absent here was left by an earlier process that had the same id
# (ids repeat, e.g. in containers): it is stale, not ours.
_HELD: dict[Path, int] = {}


class FolderLockedError(RuntimeError):
    """Another run writes to the output directory, or a stale lock was left there."""


def _holder(lock: Path, tries: int = 20) -> dict:
    """The lock's record; waits briefly for a holder that created it but has not written."""
    for attempt in range(tries):
        try:
            record = json.loads(lock.read_text() or "null")
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict):
            return record
        if attempt + 1 < tries:
            time.sleep(0.05)
    return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:  # pragma: no cover - platforms without signal 0
        return True
    return True


def _refuse(directory: Path, lock: Path) -> FolderLockedError:
    record = _holder(lock)
    pid, host = record.get("pid"), record.get("host")
    remove = f"if no other run writes to {directory}, remove it (rm {lock}) and rerun"
    if not isinstance(pid, int) or isinstance(pid, bool):
        return FolderLockedError(f"{lock} exists but names no process (damaged?); {remove}")
    here = host == socket.gethostname()
    if here and (pid == os.getpid() or not _alive(pid)):
        return FolderLockedError(
            f"stale lock {lock}: polarlab process {pid} (started {record.get('started')}) "
            f"is no longer running (killed?); {remove}"
        )
    where = "" if here else f" on host {host}"
    return FolderLockedError(
        f"another polarlab run (process {pid}{where}, started {record.get('started')}) "
        f"is writing to {directory}; wait for it to finish or use another --out "
        f"(lock file {lock})"
    )


@contextlib.contextmanager
def folder_lock(directory: str | Path) -> Iterator[Path]:
    """Hold ``directory``'s lock for the ``with`` block; yields the directory.

    Creates the directory (and missing parents) if needed; on exit removes the lock
    file and the directories it created if they are still empty (so a run that fails
    on its input leaves nothing behind).

    Raises
    ------
    FolderLockedError
        The directory is locked by another process (running, or gone: a stale
        lock); the message names the process and how to remove a stale lock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with folder_lock(folder):
    ...     with folder_lock(folder):  # re-entrant within a process
    ...         (folder / LOCK_NAME).exists()
    True
    >>> (folder / LOCK_NAME).exists()
    False
    """
    directory = Path(directory)
    key = directory.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield directory
        finally:
            _HELD[key] -= 1
        return
    created = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        created.append(parent)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_NAME
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise _refuse(directory, lock) from None
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(record) + "\n")
    _HELD[key] = 1
    try:
        yield directory
    finally:
        del _HELD[key]
        if _holder(lock, tries=1).get("pid") == os.getpid():  # still ours (not removed by hand)
            with contextlib.suppress(OSError):
                lock.unlink()
        for folder in created:  # innermost first; only those still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
