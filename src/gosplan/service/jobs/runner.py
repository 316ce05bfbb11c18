"""The bureau's job runner: plans, re-plans and simulations on Dask, their state in the database.

:class:`JobRunner` ``(db, settings)``: ``start()``, ``submit(job_id)``, ``cancel(job_id)``,
``describe()``, ``close()``.

* Where jobs run: an in-process ``distributed`` client (threads, ``settings.jobs_threads``)
  started on the first submit (the service starts without it), or the scheduler at
  ``settings.scheduler`` (``gosplan serve --scheduler ADDRESS``). The task functions
  (:mod:`gosplan.service.jobs.tasks`) get the economy's spec, its zip and the parameters; they
  never touch the database.
* One background thread owns the client: it submits, reads every job's progress from the
  scheduler (one call for all, the task writes it at most every 0.5 s), writes progress,
  ``running``, and on completion the draft (plan, re-plan) or the result and alerts
  (simulation) in short transactions; failures keep the library's message on one line (the
  traceback goes to the server's log only).
* Cancellation: ``cancel_requested`` is stored; a queued job is cancelled at once; a running
  one through a distributed Event its progress callback checks (the task raises
  :class:`~gosplan.service.jobs.tasks.Cancelled`).
* ``start()`` marks jobs a previous server process left queued or running as failed
  (:data:`INTERRUPTED`); ``close()`` does the same for its own unfinished jobs, after cancelling
  them, and never waits more than a few seconds.
"""

from __future__ import annotations

import datetime as dt

import logging
import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from gosplan.service.models import FINISHED, Alert, Draft, EconomyFile, EconomyRow, Job, Report, pack, utcnow

__all__ = ["JobRunner", "INTERRUPTED"]

log = logging.getLogger("gosplan.service.jobs")

INTERRUPTED = "interrupted: the server stopped before the job finished; submit it again"
PROGRESS_EVERY = 0.5  # seconds between progress writes of one job
TICK = 0.1  # seconds between looks at the running jobs
HEARTBEAT = 5.0  # seconds between a runner's signs of life on its jobs
STALE = 30.0  # a queued or running job whose owner gave no sign of life for this long is failed


@dataclass
class _Active:
    job_id: int
    kind: str
    future: Any = None
    key: str = ""
    running: bool = False
    progress: tuple[float, str] | None = None
    written: float = -math.inf
    cancelling: bool = False
    outcome: tuple[str, str, dict | None] | None = None
    retry_at: float = 0.0
    submitted: float = field(default_factory=time.monotonic)


class JobRunner:
    """Runs the bureau's jobs on Dask (see the module)."""

    def __init__(self, db: Any, settings: Any):
        self.db, self.settings = db, settings
        self.name = f"gosplan-{uuid.uuid4().hex[:10]}"  # scheduler names of this runner's jobs
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._later: list[tuple[float, str, int, int]] = []  # (when, what, job, attempt): put off
        self._lock = threading.Lock()
        self._waiting: set[int] = set()  # submitted, not yet handed to Dask
        self._active: dict[int, _Active] = {}
        self._client: Any = None
        self._client_error: str | None = None
        self._workers: tuple[int, int] | None = None  # (workers, threads) last seen
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.client_seconds: float | None = None  # how long the client took to start
        self._beat_at = time.monotonic()

    # ------------------------------------------------------------------ public
    def start(self) -> None:
        """Fail the jobs that stopped servers left unfinished, then start the runner's thread.

        Several server processes may share one database (``gosplan serve --workers N``, or
        servers on several machines): each runner owns the jobs it runs and marks them alive every
        :data:`HEARTBEAT` seconds. A queued or running job whose owner has given no sign of life
        for :data:`STALE` seconds (or that no runner took) is marked failed, here and every
        :data:`HEARTBEAT` seconds after, so the jobs of a killed server fail within ``STALE``
        seconds and the other servers' jobs go on."""
        self._sweep()
        self._stopping.clear()
        self._beat_at = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="gosplan-jobs", daemon=True)
        self._thread.start()

    def _sweep(self) -> None:
        """Mark failed the unfinished jobs whose owner is gone (see :meth:`start`)."""
        from sqlalchemy import and_, or_

        cutoff = utcnow() - dt.timedelta(seconds=STALE)
        unfinished = Job.state.in_(("queued", "running"))
        gone = or_(and_(Job.owner.is_(None), Job.created_at < cutoff),
                   and_(Job.owner.is_(None), Job.state == "running"),
                   and_(Job.owner.is_not(None), Job.owner != self.name,
                        or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff)))
        with self._lock:
            mine = set(self._waiting) | set(self._active)
        with self.db.session() as s:
            left = [j for j in s.execute(select(Job.id).where(unfinished, gone)).scalars().all() if j not in mine]
            if left:
                s.execute(update(Job).where(Job.id.in_(left), unfinished)
                          .values(state="failed", message=INTERRUPTED, finished_at=utcnow()))
        if left:
            log.warning("%d job(s) left unfinished by a stopped server marked failed: %s", len(left), left[:20])

    def _beat(self) -> None:
        """Sign of life on this runner's jobs; then the sweep of the others'."""
        with self._lock:
            mine = sorted(set(self._waiting) | set(self._active))
        if mine:
            with self.db.session() as s:
                s.execute(update(Job).where(Job.id.in_(mine), Job.owner == self.name).values(heartbeat_at=utcnow()))
        self._sweep()

    def submit(self, job_id: int) -> None:
        """Run the job ``job_id`` (its row committed, state ``queued``)."""
        with self._lock:
            self._waiting.add(int(job_id))
        self._inbox.put(("submit", int(job_id)))

    def cancel(self, job_id: int) -> bool:
        """Ask the job to stop; ``False`` when it has already finished (or does not exist).

        A queued job is cancelled at once; a running one stops at its next progress call
        (state ``cancelled`` then)."""
        with self.db.session() as s:
            job = s.get(Job, int(job_id), with_for_update=True)
            if job is None or job.state in FINISHED:
                return False
            job.cancel_requested = True
            if job.state == "queued":
                job.state, job.message, job.finished_at = "cancelled", "cancelled before it started", utcnow()
        self._inbox.put(("cancel", int(job_id)))
        return True

    def describe(self) -> dict[str, Any]:
        """``{scheduler, workers, threads, running, queued}`` (no database, no scheduler call)."""
        with self._lock:
            running = sum(1 for a in self._active.values() if a.running)
            queued = len(self._waiting) + sum(1 for a in self._active.values() if not a.running)
        workers, threads = self._workers or ((1, int(self.settings.jobs_threads)) if not self.settings.scheduler
                                              else (0, 0))
        out = {"scheduler": self.settings.scheduler or "in-process", "workers": workers, "threads": threads,
               "running": running, "queued": queued, "started": self._client is not None}
        if self._client_error:
            out["error"] = self._client_error
        return out

    def close(self, timeout: float = 10.0) -> None:
        """Cancel this runner's unfinished jobs (marked failed: interrupted), close the client."""
        self._stopping.set()
        self._inbox.put(("stop", None))
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the job runner did not stop within %.0f s; left behind", timeout)
            self._thread = None

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        while True:
            try:
                try:
                    message = self._inbox.get(timeout=TICK if self._active or self._later else 1.0)
                except queue.Empty:
                    message = None
                while message is not None:
                    if message[0] == "stop":
                        self._shutdown()
                        return
                    self._handle(*message)
                    try:
                        message = self._inbox.get_nowait()
                    except queue.Empty:
                        message = None
                self._again()
                if self._active:
                    self._watch()
                if time.monotonic() - self._beat_at >= HEARTBEAT:
                    self._beat_at = time.monotonic()
                    try:
                        self._beat()
                    except Exception as exc:  # noqa: BLE001 - the database may be restarting
                        log.warning("heartbeat not written (%s: %s)", type(exc).__name__, exc)
            except Exception:  # noqa: BLE001 - the thread must not die: log, breathe, go on
                log.exception("the job runner's loop failed; going on")
                self._stopping.wait(1.0)

    def _again(self) -> None:
        """Hand the messages put off while the database was unreachable back to the inbox."""
        now = time.monotonic()
        due = [m for m in self._later if m[0] <= now]
        for m in due:
            self._later.remove(m)
            self._inbox.put((m[1], m[2], m[3]))

    def _handle(self, what: str, job_id: int, attempt: int = 0) -> None:
        from sqlalchemy.exc import DBAPIError

        try:
            if what == "submit":
                self._submit(job_id)
            elif what == "cancel":
                self._cancel(job_id)
        except DBAPIError as exc:
            # the database is unreachable (PostgreSQL restarting): try again for a minute
            if attempt < 60:
                log.warning("job %s: %s put off, the database is unreachable (%s)", job_id, what, type(exc).__name__)
                self._later.append((time.monotonic() + 1.0, what, job_id, attempt + 1))
                return
            log.exception("job %s: %s failed, the database stayed unreachable", job_id, what)
        except Exception as exc:  # noqa: BLE001 - one job's trouble is not the runner's
            log.exception("job %s: %s failed", job_id, what)
            if what == "submit":
                self._finish(job_id, "failed", f"the job could not be run: {type(exc).__name__}: {exc}")
        if what == "submit":
            with self._lock:
                self._waiting.discard(job_id)

    def _ensure_client(self) -> Any:
        if self._client is not None:
            return self._client
        start = time.perf_counter()
        from distributed import Client

        address = self.settings.scheduler
        try:
            if address:
                client = Client(address, timeout=15, set_as_default=False)
            else:
                # no dashboard; the scheduler's and worker's HTTP endpoints (health, metrics) on
                # loopback at free ports (Dask's default is 8787 on every interface)
                client = Client(processes=False, n_workers=1, threads_per_worker=max(int(self.settings.jobs_threads), 1),
                                dashboard_address=None, worker_dashboard_address="127.0.0.1:0",
                                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                                set_as_default=False)
        except Exception as exc:  # noqa: BLE001
            self._client_error = f"cannot reach the Dask scheduler at {address}: {exc}" if address else str(exc)
            raise RuntimeError(self._client_error) from None
        self._client, self._client_error = client, None
        self.client_seconds = time.perf_counter() - start
        self._refresh_workers()
        log.info("jobs run on %s (client started in %.2f s)", address or "an in-process Dask cluster",
                 self.client_seconds)
        return client

    def _refresh_workers(self) -> None:
        try:
            info = self._client.scheduler_info(n_workers=-1) if self.settings.scheduler else self._client.scheduler_info()
            workers = info.get("workers", {})
            self._workers = (len(workers), sum(int(w.get("nthreads", 0)) for w in workers.values()))
        except Exception:  # noqa: BLE001 - describe() only
            pass

    def _submit(self, job_id: int) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                log.warning("job %s submitted but not found", job_id)
                return
            if job.state != "queued":
                return  # cancelled before it was handed over
            job.owner, job.heartbeat_at = self.name, utcnow()
            kind, params = job.kind, dict(job.params or {})
            eco = s.get(EconomyRow, job.economy_id)
            spec = dict(eco.spec or {})
            data = None
            if "upload" in spec:
                f = s.get(EconomyFile, job.economy_id)
                data = None if f is None else bytes(f.data)
            reports = _latest_reports(s, job.economy_id, params.get("period")) if kind == "replan" else None
        from gosplan.service.jobs.tasks import run_job

        client = self._ensure_client()
        active = _Active(job_id, kind)
        active.key = f"{self.name}-job-{job_id}"
        future = client.submit(run_job, kind, spec, data, params, reports, [self.name, str(job_id)],
                               f"{active.key}-cancel", key=active.key, pure=False, retries=0)
        active.future = future
        with self._lock:
            self._active[job_id] = active

    def _cancel(self, job_id: int) -> None:
        active = self._active.get(job_id)
        if active is None or self._client is None:
            return
        from distributed import Event

        active.cancelling = True
        Event(f"{active.key}-cancel", client=self._client).set()
        if not active.running:
            active.future.cancel()

    def _watch(self) -> None:
        """Progress of the running jobs, and the ends of finished ones."""
        try:
            seen = self._client.get_metadata([self.name], default={}) or {}
        except Exception:  # noqa: BLE001 - progress is best effort
            seen = {}
        now = time.monotonic()
        started, moved = [], []
        for job_id, a in list(self._active.items()):
            value = seen.get(str(job_id))
            if value is not None:
                a.progress = (float(value[0]), str(value[1]))
                if not a.running:
                    a.running = True
                    started.append(a)
                elif now - a.written >= PROGRESS_EVERY:
                    moved.append(a)
            if a.future.done() and now >= a.retry_at:
                try:
                    self._complete(a)
                except Exception as exc:  # noqa: BLE001 - the database: keep the result, try again
                    log.warning("job %s: its end could not be written (%s: %s); trying again",
                                a.job_id, type(exc).__name__, exc)
                    a.retry_at = now + 1.0
        if started or moved:
            try:
                self._write_progress(started, moved, now)
            except Exception as exc:  # noqa: BLE001 - progress is best effort
                log.warning("progress not written (%s: %s)", type(exc).__name__, exc)

    def _write_progress(self, started: list[_Active], moved: list[_Active], now: float) -> None:
        with self.db.session() as s:
            for a in started:
                fraction, message = a.progress or (0.0, "started")
                s.execute(update(Job).where(Job.id == a.job_id, Job.state == "queued")
                          .values(state="running", started_at=utcnow(), progress=fraction, message=message))
                a.written = now
            for a in moved:
                fraction, message = a.progress or (0.0, "")
                s.execute(update(Job).where(Job.id == a.job_id, Job.state == "running")
                          .values(progress=fraction, message=message))
                a.written = now

    def _forget(self, a: _Active) -> None:
        with self._lock:
            self._active.pop(a.job_id, None)
        try:
            self._client.set_metadata([self.name, str(a.job_id)], None)
        except Exception:  # noqa: BLE001
            pass

    def _complete(self, a: _Active) -> None:
        """Write the job's end; forget it once written (an exception leaves it for a retry)."""
        if a.outcome is None:
            a.outcome = self._outcome(a)
        self._finish(a.job_id, *a.outcome)
        self._forget(a)

    def _outcome(self, a: _Active) -> tuple[str, str, dict | None]:
        """``(state, message, payload)`` of a finished future."""
        future = a.future
        if future.status == "cancelled":
            return "cancelled", "cancelled", None
        if future.status == "error":  # not the task's own failure (it returns those): a lost worker, ...
            import traceback

            from gosplan.service.jobs.tasks import one_line

            exc = future.exception()
            tb = future.traceback()
            log.error("job %s (%s) failed on Dask: %r\n%s", a.job_id, a.kind, exc,
                      "".join(traceback.format_tb(tb)) if tb else "")
            return "failed", one_line(f"the job failed on Dask: {type(exc).__name__}: {exc}"), None
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. a lost worker
            log.exception("job %s: its result could not be fetched", a.job_id)
            return "failed", f"the job's result was lost: {type(exc).__name__}: {exc}", None
        if outcome.get("outcome") == "cancelled":
            return "cancelled", "cancelled while running", None
        if outcome.get("outcome") == "failed":
            log.error("job %s (%s) failed: %s: %s\n%s", a.job_id, a.kind, outcome.get("error"),
                      outcome.get("message"), outcome.get("trace"))
            return "failed", str(outcome.get("message")), None
        return "done", "", outcome.get("payload")

    def _finish(self, job_id: int, state: str, message: str, payload: dict | None = None) -> None:
        """The job's end in one transaction (a job already finished, e.g. cancelled while
        queued, is left as it is; a job whose cancel was asked for ends cancelled)."""
        from gosplan.service.jobs.tasks import draft_summary

        with self.db.session() as s:
            job = s.get(Job, job_id, with_for_update=True)
            if job is None or job.state in FINISHED:
                return
            if job.cancel_requested and state != "failed":
                if state != "cancelled":
                    message = "cancelled (it finished before it could stop; its result was discarded)"
                state, payload = "cancelled", None
            job.state, job.finished_at = state, utcnow()
            if job.started_at is None and state != "cancelled":
                job.started_at = job.finished_at
            job.message = message or ("done" if state == "done" else state)
            if state == "done" and payload is not None:
                job.progress = 1.0
                if job.kind == "simulate":
                    job.result = pack(payload)
                    job.summary = payload.get("summary")
                    s.add_all(_alerts(job, payload.get("alerts") or []))
                else:
                    summary = draft_summary(payload)
                    draft = Draft(economy_id=job.economy_id, job_id=job.id, kind=payload.get("kind") or job.kind,
                                  summary=summary, payload=pack(payload), created_by=job.created_by)
                    s.add(draft)
                    s.flush()
                    job.draft_id, job.summary = draft.id, summary
                    job.message = payload.get("message") or "done"

    def _shutdown(self) -> None:
        """Cancel what is left, mark it interrupted, close the client (bounded waits)."""
        pending = list(self._active.values())
        with self._lock:
            waiting = list(self._waiting)
        if self._client is not None:
            from distributed import Event

            for a in pending:
                try:
                    Event(f"{a.key}-cancel", client=self._client).set()
                    a.future.cancel()
                except Exception:  # noqa: BLE001
                    pass
        ids = [a.job_id for a in pending] + waiting
        if ids:
            try:
                with self.db.session() as s:
                    s.execute(update(Job).where(Job.id.in_(ids), Job.state.in_(("queued", "running")))
                              .values(state="failed", message=INTERRUPTED, finished_at=utcnow()))
            except Exception:  # noqa: BLE001 - the next start() does it
                log.exception("could not mark the unfinished jobs interrupted")
        with self._lock:
            self._active.clear()
            self._waiting.clear()
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close(timeout=3)
            except Exception:  # noqa: BLE001
                log.warning("the Dask client did not close cleanly", exc_info=True)


def _latest_reports(s: Any, economy_id: int, period: int | None) -> list[dict[str, Any]]:
    """Each enterprise's latest report (highest period, then the last stored) up to ``period``."""
    q = select(Report.enterprise, Report.period, Report.output, Report.capacity, Report.stocks).where(
        Report.economy_id == economy_id)
    if period is not None:
        q = q.where(Report.period <= int(period))
    q = q.order_by(Report.enterprise, Report.period, Report.id)
    latest: dict[str, dict[str, Any]] = {}
    for enterprise, p, output, capacity, stocks in s.execute(q):
        latest[enterprise] = {"enterprise": enterprise, "period": p, "output": output, "capacity": capacity,
                              "stocks": stocks}
    return list(latest.values())


def _alerts(job: Job, rows: list[dict[str, Any]]) -> list[Alert]:
    out = []
    for r in rows:
        out.append(Alert(
            economy_id=job.economy_id, job_id=job.id, period=int(r.get("period") or 0), level=str(r.get("level")),
            who=str(r.get("who"))[:200], enterprise=None if r.get("enterprise") is None else str(r["enterprise"])[:200],
            ministry=None if r.get("ministry") is None else str(r["ministry"])[:200],
            indicator=str(r.get("indicator"))[:100], kind=str(r.get("kind"))[:20],
            probability=float(r.get("probability") or 0.0), raised=int(r.get("raised") or 0),
            resolved=None if r.get("resolved") is None else int(r["resolved"]),
        ))
    return out
