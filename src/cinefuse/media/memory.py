"""Giving decoded-image memory back to the operating system.

Decoding a 16-megapixel image allocates several buffers of tens of megabytes. glibc's
allocator serves those from its heaps once its dynamic mmap threshold has grown, and
keeps the freed pages, so a server that decoded a burst of large inputs stays hundreds
of megabytes above its baseline for good. ``release_freed_memory`` (``malloc_trim``)
returns them; it is a no-op where the C library has no such call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to trim
    _trim = None

#: Decodes of large images run at most this many at a time in a process: each holds a few
#: full-size buffers, so a burst of 20 huge inputs must not decode all at once.
DECODE_SLOTS = threading.BoundedSemaphore(2)


def release_freed_memory() -> None:
    """Return the allocator's free pages to the operating system."""
    if _trim is not None:
        _trim(0)
