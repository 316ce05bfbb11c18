"""Where the ministries' work runs: in this process, or on a Dask ``distributed`` cluster.

Both executors hold one *handle* per ministry (its state, or a future of it on the
cluster) and run one function per ministry per round. On Dask the ministries'
states stay on the workers from round to round; only prices go down and reports come
up. Every state is a task result (never scattered data), so when a worker dies the
scheduler recomputes what it held from its lineage and the answer is unchanged.
"""

from __future__ import annotations

import operator
import os
import pickle
from typing import Any, Callable, Sequence

__all__ = ["InProcess", "DaskExecutor", "executor"]


def payload_bytes(obj: Any) -> int:
    """Bytes ``obj`` takes on the wire (its pickle)."""
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class InProcess:
    """Run every ministry here, one after another (the default: no cluster needed)."""

    name = "in-process"
    workers = 1

    def start(self, build: Callable, args: Sequence[tuple]) -> list[Any]:
        return [build(*a) for a in args]

    def step(self, fn: Callable, handles: Sequence[Any], shared: Any) -> tuple[list[Any], list[Any]]:
        out = [fn(h, shared) for h in handles]
        return [o[0] for o in out], [o[1] for o in out]

    def map(self, fn: Callable, handles: Sequence[Any], args: Sequence[Any]) -> list[Any]:
        """``fn(handle, arg)`` for each ministry, its own argument each; the results come back."""
        return [fn(h, a) for h, a in zip(handles, args)]

    def each(self, fn: Callable, handles: Sequence[Any], shared: Any) -> list[Any]:
        """``fn(handle, shared)`` for each ministry, one argument for all; the results come back."""
        return [fn(h, shared) for h in handles]

    def memory(self) -> dict[str, int]:
        import resource

        return {"in-process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "in-process"


class _EnvironKept:
    """Keep this process's environment as it is. Dask's nanny sets ``OMP_NUM_THREADS=1``,
    ``MKL_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``, ``PYTHONHASHSEED``... in the environment
    of the process that starts the workers (for the workers' sake); left there, they change how
    many threads OpenMP code started later in *this* process uses (HiGHS' PDLP, numba), and so
    the last digits of its answers."""

    def __enter__(self) -> "_EnvironKept":
        self.saved = dict(os.environ)
        return self

    def __exit__(self, *exc: Any) -> None:
        restore_environ(self.saved)


def restore_environ(saved: dict[str, str]) -> None:
    """Put ``os.environ`` back to ``saved``."""
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _identity(x: Any) -> Any:
    return x


def _rss() -> int:
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


class DaskExecutor:
    """Run the ministries on a ``distributed`` cluster through ``client``."""

    name = "dask"

    def __init__(self, client: Any, cluster: Any = None, owns_client: bool = False,
                 environ: dict[str, str] | None = None):
        self.client = client
        self.cluster = cluster
        self.owns_client = owns_client
        self.environ = dict(os.environ) if environ is None else environ  # restored after each step

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def start(self, build: Callable, args: Sequence[tuple]) -> list[Any]:
        import warnings

        with warnings.catch_warnings():
            # The ministries' data travels inside the tasks that build their states, so that
            # the scheduler can rebuild a state a lost worker held (scattered data cannot be).
            warnings.filterwarnings("ignore", message=".*Large object.*")
            warnings.filterwarnings("ignore", message=".*large graph.*")
            return [self.client.submit(build, *a, pure=False) for a in args]

    def _with_shared(self, fn: Callable, handles: Sequence[Any], shared: Any) -> list[Any]:
        """Futures of ``fn(handle, shared)``, ``shared`` sent once as a task they all read (not
        once per ministry: a block of prices for every ministry of 10^6 products filled the
        driver's memory)."""
        client = self.client
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Large object.*")
            warnings.filterwarnings("ignore", message=".*large graph.*")
            arg = client.submit(_identity, shared, pure=False)
            return [client.submit(fn, h, arg, pure=False) for h in handles]

    def step(self, fn: Callable, handles: Sequence[Any], shared: Any) -> tuple[list[Any], list[Any]]:
        client = self.client
        out = self._with_shared(fn, handles, shared)
        states = [client.submit(operator.getitem, o, 0, pure=False) for o in out]
        reports = client.gather([client.submit(operator.getitem, o, 1, pure=False) for o in out])
        if self.cluster is not None:
            restore_environ(self.environ)  # a restarted worker's nanny sets its variables again
        return states, reports

    def map(self, fn: Callable, handles: Sequence[Any], args: Sequence[Any]) -> list[Any]:
        client = self.client
        return client.gather([client.submit(fn, h, a, pure=False) for h, a in zip(handles, args)])

    def each(self, fn: Callable, handles: Sequence[Any], shared: Any) -> list[Any]:
        """As :meth:`map` with one argument for all, sent once (:meth:`_with_shared`)."""
        return self.client.gather(self._with_shared(fn, handles, shared))

    def memory(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.client.run(_rss).items()}

    def close(self) -> None:
        if self.owns_client:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
                restore_environ(self.environ)

    def describe(self) -> str:
        address = getattr(self.client.scheduler, "address", "?")
        kind = "LocalCluster" if self.cluster is not None else "cluster"
        return f"dask {kind} at {address} with {self.workers} worker(s)"


def executor(*, workers: int | None = None, scheduler: str | None = None, client: Any = None) -> InProcess | DaskExecutor:
    """In-process by default; ``workers=N`` starts a local cluster of ``N`` worker processes;
    ``scheduler=ADDRESS`` joins a running one; ``client`` uses a ``distributed.Client`` you hold."""
    given = [k for k, v in (("workers", workers), ("scheduler", scheduler), ("client", client)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of workers, scheduler, client (got {', '.join(given)})")
    if not given:
        return InProcess()
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "running ministries on a cluster needs Dask distributed: pip install 'gosplan[distributed]'"
        ) from exc
    if client is not None:
        return DaskExecutor(client)
    if scheduler is not None:
        return DaskExecutor(distributed.Client(scheduler), owns_client=True)
    if workers is None or workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    with _EnvironKept() as kept:
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = distributed.Client(cluster)
    return DaskExecutor(client, cluster=cluster, owns_client=True, environ=kept.saved)
