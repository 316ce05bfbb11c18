"""One ``njit`` for every numba kernel of gosplan: compiled once, then cached on disk.

numba compiles a kernel on its first call in a process (0.3 s for a small serial loop,
1-4 s for a ``parallel=True`` one on a 2-core machine); with ``cache=True`` it writes the
machine code to disk and later processes load it (milliseconds) instead of compiling.

Where the cache lives (numba's rules, ``NUMBA_CACHE_DIR`` unset): in ``__pycache__`` next
to each kernel module (``*.nbi`` index, ``*.nbc`` code) when that directory is writable,
as in a virtual environment or an editable install; otherwise in numba's user-wide
directory (``~/.cache/numba`` on Linux, ``$XDG_CACHE_HOME/numba``). With
``NUMBA_CACHE_DIR=DIR`` numba uses only ``DIR``. An entry is keyed by the kernel's source
file (its modification time and size), the argument types and the CPU, so an upgrade or
another machine recompiles by itself; deleting the files clears the cache.

When no cache directory is writable at all (read-only install and no writable home),
the kernels compile in every process instead of failing at import as a plain
``numba.njit(cache=True)`` does. ``GOSPLAN_NUMBA_CACHE=0`` switches the disk cache off
(every process compiles again), e.g. to time compilation itself.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from numba import njit as _njit

CACHE_ENV = "GOSPLAN_NUMBA_CACHE"

#: Every kernel made by :func:`njit`, in definition order (for tests and warm-up).
KERNELS: list[Any] = []


def caching() -> bool:
    """Whether kernels are cached on disk: ``GOSPLAN_NUMBA_CACHE`` is not 0/false/no/off."""
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def njit(*args: Any, **options: Any) -> Any:
    """``numba.njit`` with ``cache=True`` by default (see the module docstring).

    Used as ``@njit`` or ``@njit(parallel=True)``; ``inline="always"`` helpers are compiled
    into their callers and cached with them, not on their own.
    """
    cache = options.pop("cache", caching()) and options.get("inline", "never") == "never"

    def wrap(func: Callable) -> Any:
        dispatcher = _njit(**options)(func)
        if cache:
            try:
                dispatcher.enable_caching()
            except RuntimeError:  # numba: "no locator available" (nothing writable)
                pass
        if options.get("inline", "never") == "never":
            KERNELS.append(dispatcher)
        return dispatcher

    if args and callable(args[0]) and len(args) == 1:
        return wrap(args[0])
    if args:
        raise TypeError(
            "gosplan._jit.njit takes keyword options only (no signatures: kernels compile lazily)"
        )
    return wrap
