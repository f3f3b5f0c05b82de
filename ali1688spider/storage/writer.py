"""``Store.write`` in a child process, so a crawl's batches do not share its interpreter lock.

Written in the crawl's process, a batch's Python work (SQLAlchemy's parameter handling, change
detection) holds the interpreter lock the reactor needs: every time the reactor lets go of it
(a socket read, a feed write) it may wait up to a switch interval to get it back, and its
grants and downloads slow with the store. ``WriterProcess`` runs this module's ``main`` in a
child Python instead: the crawl's side only pickles each batch into the child's standard input
and reads its ``BatchResult`` back, and the store's work runs on another core.

A batch travels as the product items' plain fields (cheaper to pickle than their typed
``ProductRecord``, which the child makes). The promises of a batch are those of
``Store.write``: one transaction each, in the order sent. The database URL travels in the first
message, never on the command line. The child dies with its parent (Linux:
``PR_SET_PDEATHSIG``; elsewhere at the end of its input), so a killed crawl leaves no writer
committing batches nobody acknowledged. A child that ends unexpectedly fails the batch in
flight and every later one with ``StorageError``.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import ali1688spider
from ali1688spider.storage.errors import StorageError, describe_error

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ali1688spider.storage.store import BatchResult, Store

#: The child's program: ``main`` of this module, imported from the package root it is given.
_CHILD = f"import sys; sys.path.insert(0, sys.argv[1]); from {__name__} import main; main()"
#: Seconds the child has to finish its last batch and exit once its input ends.
CLOSE_SECONDS = 30.0
#: ``prctl`` option: the signal the child gets when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1


class WriterProcess:
    """A ``Store`` of *url* in a child process that writes batches; send them from one thread
    at a time (the crawl's worker thread: each waits for its answer)."""

    def __init__(self, url: str, *, detect_changes: bool) -> None:
        # The child imports this very package, ahead of one that may sit in the working
        # directory (which ``python -m`` and ``-c`` put first), and the rest from where the
        # crawl did.
        package_root = str(Path(ali1688spider.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self.failure: str | None = None
        try:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-c", _CHILD, package_root, str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            )
        except OSError as exc:  # every batch fails with this
            self.process, self.failure = None, f"the database writer process could not start ({exc})"
            return
        try:
            self._send((url, detect_changes))
        except StorageError:  # ended at once: the first batch fails with why
            pass

    def write(
        self, run_id: int, products: Sequence[Mapping[str, Any]] = (), categories: Sequence[Mapping[str, Any]] = ()
    ) -> BatchResult:
        """``Store.write`` of valid *products* (items as dicts) in the child; StorageError when
        the batch was not committed."""
        self._send((run_id, list(products), list(categories)))
        try:
            failed, value = pickle.load(self.process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self._ended() from None
        if failed:
            raise StorageError(value)
        return value

    def close(self) -> None:
        """End the child's input and wait for it (it commits nothing more: every batch sent
        has been answered)."""
        if self.process is None:
            return
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()

    def _send(self, message: Any) -> None:
        if self.failure is not None:
            raise StorageError(self.failure)
        try:
            pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except OSError:
            raise self._ended() from None

    def _ended(self) -> StorageError:
        """The child is gone: this and every later batch fail."""
        self.process.wait()
        self.failure = f"the database writer process ended unexpectedly (exit status {self.process.returncode})"
        return StorageError(self.failure)


def _die_with(parent: int) -> None:
    """Be killed when *parent* dies (Linux; elsewhere the end of the input ends the child)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def write_batch(
    store: Store, run_id: int, products: Sequence[Mapping[str, Any]], categories: Sequence[Mapping[str, Any]]
) -> BatchResult:
    """``Store.write`` of a batch as the crawl hands it over (product items as dicts)."""
    from ali1688spider.storage.records import product_record

    return store.write(run_id, [product_record(item) for item in products], categories)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer each batch of *requests* with ``(failed, BatchResult or error text)``, in order,
    until the input ends."""
    from ali1688spider.storage.store import Store

    url, detect_changes = pickle.load(requests)
    store: Store | None = None
    while True:
        try:
            run_id, products, categories = pickle.load(requests)
        except EOFError:
            break
        try:
            if store is None:
                store = Store(url, detect_changes=detect_changes)
            answer = (False, write_batch(store, run_id, products, categories))
        except Exception as exc:  # noqa: BLE001 - every failure is the batch's, told to the crawl
            answer = (True, describe_error(exc))
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
    if store is not None:
        store.close()


def main() -> None:
    """The child: ``python -c _CHILD PACKAGE_ROOT PARENT_PID``."""
    _die_with(int(sys.argv[2]))
    # The crawl decides when writing ends: a Ctrl-C or a stop signal sent to the whole group
    # must not cut the batches its graceful shutdown still commits.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    # Answers go to a private copy of standard output; a stray print goes to standard error.
    with os.fdopen(os.dup(1), "wb") as answers:
        os.dup2(2, 1)
        serve(sys.stdin.buffer, answers)

