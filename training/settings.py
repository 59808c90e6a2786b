"""Every setting of the project, read from the environment in this one module, typed and documented."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Defaults give the embedded set-up: SQLite MLflow store and artifacts under `models/`, loopback gRPC."""

    tracking_uri: str = f"sqlite:///{PROJECT_ROOT / 'models' / 'mlflow.db'}"
    """MLFLOW_TRACKING_URI: MLflow tracking and registry store."""
    artifact_root: Path = PROJECT_ROOT / "models" / "artifacts"
    """STANCE_ARTIFACT_ROOT: where new experiments store run artifacts and models."""
    experiment: str = "news-stance"
    """STANCE_EXPERIMENT: MLflow experiment for training runs."""
    model_name: str = "news-stance"
    """STANCE_MODEL_NAME: registered model name."""
    model_alias: str = "champion"
    """STANCE_MODEL_ALIAS: the alias the service loads and training promotes."""
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    """STANCE_SEEDS_DIR: the corpus, issue taxonomy and actor registry."""
    datasets_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets"
    """STANCE_DATASETS_DIR: public labelled datasets (read at run time, never copied)."""
    cache_dir: Path = PROJECT_ROOT / "models" / "cache"
    """STANCE_CACHE_DIR: cached spaCy parses (DocBin) of corpora and datasets."""
    address: str = "127.0.0.1:50051"
    """STANCE_ADDRESS: host:port the gRPC server binds (port 0 = any free port)."""
    max_text_chars: int = 100_000
    """STANCE_MAX_TEXT_CHARS: longest text accepted by one request (INVALID_ARGUMENT beyond)."""
    max_workers: int = 4
    """STANCE_MAX_WORKERS: threads of the gRPC server's executor (per worker process)."""
    workers: int = os.cpu_count() or 1
    """STANCE_WORKERS: server processes sharing the port (SO_REUSEPORT); default: the CPU count."""
    seed: int = 13
    """STANCE_SEED: random seed for training."""
    max_concurrent_rpcs: int = 16
    """STANCE_MAX_CONCURRENT_RPCS: requests in progress beyond which new ones get RESOURCE_EXHAUSTED."""
    max_stream_documents: int = 10_000
    """STANCE_MAX_STREAM_DOCUMENTS: documents accepted on one AnalyzeStream call."""
    batch_size: int = 8
    """STANCE_BATCH_SIZE: most documents parsed together: `Analyze` calls waiting for the model, or a
    stream's documents that have arrived (1 = one at a time)."""
    reload_seconds: int = 30
    """STANCE_RELOAD_SECONDS: how often the server checks whether the alias moved (hot reload)."""
    metrics_port: int = 0
    """STANCE_METRICS_PORT: Prometheus metrics on http://127.0.0.1:PORT/metrics (0 = off)."""
    auth_token: str = ""
    """STANCE_AUTH_TOKEN: if set, requests need `authorization: Bearer <token>` metadata."""
    tls_cert: str = ""
    """STANCE_TLS_CERT: PEM certificate chain; with STANCE_TLS_KEY the server listens with TLS."""
    tls_key: str = ""
    """STANCE_TLS_KEY: PEM private key for STANCE_TLS_CERT."""
    grace_seconds: int = 10
    """STANCE_GRACE_SECONDS: on SIGTERM, how long in-flight requests may finish."""


_ENV = {
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "artifact_root": "STANCE_ARTIFACT_ROOT",
    "experiment": "STANCE_EXPERIMENT",
    "model_name": "STANCE_MODEL_NAME",
    "model_alias": "STANCE_MODEL_ALIAS",
    "seeds_dir": "STANCE_SEEDS_DIR",
    "datasets_dir": "STANCE_DATASETS_DIR",
    "cache_dir": "STANCE_CACHE_DIR",
    "address": "STANCE_ADDRESS",
    "max_text_chars": "STANCE_MAX_TEXT_CHARS",
    "max_workers": "STANCE_MAX_WORKERS",
    "workers": "STANCE_WORKERS",
    "seed": "STANCE_SEED",
    "max_concurrent_rpcs": "STANCE_MAX_CONCURRENT_RPCS",
    "max_stream_documents": "STANCE_MAX_STREAM_DOCUMENTS",
    "batch_size": "STANCE_BATCH_SIZE",
    "reload_seconds": "STANCE_RELOAD_SECONDS",
    "metrics_port": "STANCE_METRICS_PORT",
    "auth_token": "STANCE_AUTH_TOKEN",
    "tls_cert": "STANCE_TLS_CERT",
    "tls_key": "STANCE_TLS_KEY",
    "grace_seconds": "STANCE_GRACE_SECONDS",
}


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Settings from the environment (or `environ`), then explicit overrides (command-line flags)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        var = _ENV[f.name]
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        kind = type(f.default)
        if kind is int:
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{var}={raw!r} is not an integer") from None
            if value < 0 or (value == 0 and f.name != "metrics_port"):
                raise SettingsError(f"{var}={raw!r} must be positive")
            values[f.name] = value
        elif isinstance(f.default, Path):
            values[f.name] = Path(raw).expanduser()
        else:
            values[f.name] = raw
    if "address" in values and ":" not in str(values["address"]):
        raise SettingsError(f"STANCE_ADDRESS={values['address']!r} must be host:port")
    if bool(values.get("tls_cert")) != bool(values.get("tls_key")):
        raise SettingsError("STANCE_TLS_CERT and STANCE_TLS_KEY must be set together")
    for var, key in (("STANCE_TLS_CERT", "tls_cert"), ("STANCE_TLS_KEY", "tls_key")):
        if values.get(key) and not Path(str(values[key])).is_file():
            raise SettingsError(f"{var}={values[key]!r} is not a readable file")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def env_doc() -> str:
    """A table of the environment variables and their defaults, for the README and --help."""
    rows = []
    for f in fields(Settings):
        rows.append(f"{_ENV[f.name]} (default {getattr(Settings, f.name)})")
    return "\n".join(rows)
