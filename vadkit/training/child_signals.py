"""Give SIGCHLD back after training: PyTorch's DataLoader, the first time it starts worker
processes, installs a process-wide SIGCHLD handler and never removes it. Left in place, every
child process that exits later (flow and cache workers of calibration and evaluation in the
same command) runs it; on a CPU with AMX, after bf16 work, the test suite saw that end the whole
process with SIGSEGV (tests/test_data_layouts.py::test_dataloader_workers, docs/performance.md)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigchld_restored() -> Iterator[None]:
    """Run the block, then restore SIGCHLD's disposition to what it was before (main thread only:
    elsewhere signal dispositions cannot be changed and nothing is done)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGCHLD)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous if previous is not None else signal.SIG_DFL)


__all__ = ["sigchld_restored"]
