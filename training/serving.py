"""What the service needs from model building: the champion from the registry, with its metadata."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from training.errors import ModelUnavailableError
from training.model import StanceModel
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
