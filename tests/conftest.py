"""Shared fixtures: one real training run into a temporary MLflow store, and a real gRPC server on port 0."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import grpc
import pytest

from training.settings import PROJECT_ROOT, Settings, load_settings

SEED_ID = "000_549929fe5eb0465e"
SEED_PATH = PROJECT_ROOT / "seeds" / "corpus" / f"{SEED_ID}.txt"


# One parse cache for the whole test session: each training after the first reads its parses.
_CACHE = Path(tempfile.mkdtemp(prefix="stance-parse-cache-"))


def make_settings(root: Path, **kw) -> Settings:
    """The environment's settings (seeds, datasets, limits) with a fresh MLflow store under `root`."""
    kw.setdefault("cache_dir", _CACHE)
    return dataclasses.replace(load_settings(), tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                               artifact_root=root / "artifacts", address="127.0.0.1:0", **kw)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Settings:
    """A temporary MLflow store holding one champion trained on the project's corpus."""
    from training.train import run_training

    settings = make_settings(tmp_path_factory.mktemp("mlflow"))
    result = run_training(settings)
    assert result.promoted
    return settings


@pytest.fixture(scope="session")
def served(store):
    from training.serving import load_served

    served = load_served(store)
    assert served is not None
    return served


@pytest.fixture(scope="session")
def server(served, store):
    from service.server import create_server, set_serving
    from training.serving import ModelSlot

    srv, port, health = create_server("127.0.0.1:0", ModelSlot(served), store)
    srv.start()
    set_serving(health, True)
    yield f"127.0.0.1:{port}"
    srv.stop(grace=None)


@pytest.fixture(scope="session")
def channel(server):
    with grpc.insecure_channel(server) as ch:
        yield ch


@pytest.fixture(scope="session")
def stub(channel):
    from service.api.stance.v1 import stance_pb2_grpc

    return stance_pb2_grpc.StanceServiceStub(channel)
