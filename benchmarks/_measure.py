"""Measuring helpers the benchmark scripts share (import from a script in this folder)."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any


def high_water_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory of a process since it started its program (Linux: VmHWM), in MB;
    None where /proc is not there.

    Not ru_maxrss: a spawned process is forked before it runs its program, and Linux keeps the
    resident size of that instant (a copy of its parent's) in its ru_maxrss."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def start_child(target: Any, *args: Any) -> tuple[Any, Any]:
    """Start `target(connection, *args)` in a spawned process (a fresh interpreter, so its peak
    memory is its own); returns (process, our end of the pipe). Our copy of the child's end is
    closed, so that `recv` raises EOFError if the child dies."""
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child_end, *args))
    proc.start()
    child_end.close()
    return proc, parent_end
