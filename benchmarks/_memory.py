"""Peak resident memory of one block of work, for the benchmark scripts (Linux).

The figure is the block's *extra* resident memory: the process's peak RSS during it
(``VmHWM``, reset through ``/proc/self/clear_refs`` right before it; ``ru_maxrss`` where that is
not writable) minus its RSS right before it, so weights, inputs and construction are excluded.
Run each measured configuration in its own process: freed memory stays counted in RSS as long
as the allocator keeps it.
"""

from __future__ import annotations

import resource


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_bytes(reset: bool) -> int:
    if reset:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
