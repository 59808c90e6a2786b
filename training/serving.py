"""What the service needs from model building: the champion from the registry, with its metadata."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from training.corpus import Issue
from training.errors import DeadlineError, ModelUnavailableError, StanceError
from training.model import Analysis, StanceModel, late_message
from training.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class ServedModel:
    model: StanceModel
    name: str
    version: str
    alias: str
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)


class ModelSlot:
    """Holds the model being served; empty until loaded, so requests can fail cleanly with UNAVAILABLE."""

    def __init__(self, served: ServedModel | None = None):
        self._served = served
        self._lock = threading.Lock()

    def get(self) -> ServedModel:
        served = self._served
        if served is None:
            raise ModelUnavailableError("no model is loaded yet; wait for the health check to report SERVING")
        return served

    def peek(self) -> ServedModel | None:
        """The model being served, or None (no error): for the reload check."""
        return self._served

    def set(self, served: ServedModel) -> None:
        with self._lock:
            self._served = served


class _Job:
    __slots__ = ("text", "issues", "deadline", "wanted", "result", "served", "ready")

    def __init__(self, text: str, issues: list[Issue], deadline: float | None, wanted):
        self.text, self.issues, self.deadline, self.wanted = text, issues, deadline, wanted
        self.result: Analysis | BaseException | None = None
        self.served: ServedModel | None = None
        self.ready = threading.Event()  # set when the result is in, or (result still None) to lead a batch


class Batcher:
    """Single-document requests that arrive while this process's model is busy wait, then run together as
    one batch: spaCy parses a batch of documents faster per document than one at a time (about 10% on the
    corpus' articles), and the model answers one batch at a time anyway. A request that finds the model
    idle runs at once, so nothing waits for a batch to fill.

    No extra thread: the caller that finds the model idle leads a batch (its own document and the oldest
    waiting ones, up to `max_batch`), then hands the lead to the oldest caller still waiting. Each caller
    returns as soon as its own document is done, and only the callers concerned are woken. A caller whose
    deadline passes while it waits returns then with DeadlineError; one whose request was cancelled is
    dropped when its batch starts."""

    def __init__(self, slot: ModelSlot, max_batch: int = 8, on_batch=None):
        self.slot = slot
        self.max_batch = max(1, max_batch)
        self.on_batch = on_batch  # called with each batch's number of documents (metrics)
        self._lock = threading.Lock()
        self._pending: list[_Job] = []
        self._leading = False

    def analyze(self, text: str, issues: list[Issue], deadline: float | None = None,
                wanted=lambda: True) -> tuple[Analysis, ServedModel]:
        """Analyse one document (raises its StanceError); also returns the model that answered.
        `wanted()` false (the call was cancelled) drops the job if it has not started."""
        job = _Job(text, issues, deadline, wanted)
        with self._lock:
            lead = not self._leading
            if lead:
                self._leading = True
            else:
                self._pending.append(job)
        if not lead:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            while not job.ready.wait(timeout):
                with self._lock:
                    if job in self._pending:  # still waiting at its deadline: leave, freeing this thread
                        self._pending.remove(job)
                        job.result = DeadlineError(late_message("while waiting for this worker's model"))
                        break
                timeout = None  # taken into a batch meanwhile, which drops it as late: wait for that
        if job.result is None:  # this caller leads the next batch
            with self._lock:  # this job is not pending: it never queued, or the lead handed over took it out
                batch = [job, *self._pending[:self.max_batch - 1]]
                del self._pending[:self.max_batch - 1]
            try:
                self._run(batch)
            finally:
                with self._lock:
                    if self._pending:
                        self._pending.pop(0).ready.set()  # result still None: it leads
                    else:
                        self._leading = False
        if isinstance(job.result, BaseException):  # a StanceError, or another caller's batch failing
            raise job.result
        return job.result, job.served

    def _run(self, batch: list[_Job]) -> None:
        served = None
        try:
            served = self.slot.get()
            live = []
            for j in batch:
                if j.wanted():
                    live.append(j)
                else:
                    self._finish(j, DeadlineError("the call was cancelled before its document was analysed"), served)
            if self.on_batch is not None:
                self.on_batch(len(live))
            results = served.model.analyze_each([(j.text, j.issues) for j in live], [j.deadline for j in live])
            for k, result in results:
                self._finish(live[k], result, served)
        except BaseException as exc:  # every waiter must wake: unfinished jobs get the error
            error = exc if isinstance(exc, StanceError) else RuntimeError(f"its batch failed: {exc!r}")
            for j in batch:
                if j.result is None:
                    self._finish(j, error, served)
            if not isinstance(exc, StanceError):
                raise

    @staticmethod
    def _finish(job: _Job, result: Analysis | BaseException, served: ServedModel | None) -> None:
        job.result, job.served = result, served
        job.ready.set()


def load_served(settings: Settings) -> ServedModel | None:
    """Load `models:/<name>@<alias>` from the registry, or None if the registry has no such model."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(settings.model_name, settings.model_alias)
    except MlflowException:
        return None
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@{settings.model_alias}")
    model: StanceModel = pyfunc.unwrap_python_model().model
    model.max_chars = settings.max_text_chars
    metrics = dict(client.get_run(version.run_id).data.metrics) if version.run_id else {}
    logger.info("loaded %s v%s (@%s, run %s)", settings.model_name, version.version, settings.model_alias,
                version.run_id)
    return ServedModel(model, settings.model_name, str(version.version), settings.model_alias,
                       version.run_id or "", metrics)


def ensure_served(settings: Settings) -> ServedModel:
    """The champion; if the registry has none, train one first (first start on a fresh machine)."""
    served = load_served(settings)
    if served is None:
        from training.train import run_training

        logger.info("registry has no %s@%s: training one now", settings.model_name, settings.model_alias)
        result = run_training(settings)
        logger.info("trained v%s: %s", result.version, result.reason)
        served = load_served(settings)
    if served is None:
        raise ModelUnavailableError(f"training did not produce {settings.model_name}@{settings.model_alias}")
    return served


class ModelWatcher:
    """Hot reload: polls the registry alias and swaps the slot's model when it moves. Requests already
    running keep the model they started with; new ones get the new one, so none is dropped."""

    def __init__(self, settings: Settings, slot: ModelSlot, interval: float | None = None):
        self.settings = settings
        self.slot = slot
        self.interval = settings.reload_seconds if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-watcher", daemon=True)

    def start(self) -> "ModelWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def check_once(self) -> bool:
        """Reload if the alias points at another version; True if the model changed."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            version = MlflowClient(tracking_uri=self.settings.tracking_uri).get_model_version_by_alias(
                self.settings.model_name, self.settings.model_alias)
        except MlflowException:
            return False
        current = self.slot.peek()
        if current is not None and current.version == str(version.version):
            return False
        served = load_served(self.settings)
        if served is None:
            return False
        self.slot.set(served)
        logger.info("hot reload: now serving %s v%s", served.name, served.version)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception:  # a broken new version must not take the running one down
                logger.exception("hot reload failed; still serving the previous model")
