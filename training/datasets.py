"""Public labelled datasets (../shared/datasets by default), read at run time and never copied into the repo.

Each loader returns plain examples in the project's label vocabulary; a missing dataset raises
DatasetMissing with the reason, so callers (benchmarks, tests) can skip cleanly."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

csv.field_size_limit(10_000_000)


class DatasetMissing(FileNotFoundError):
    """The dataset file is not under the configured datasets directory."""


@dataclass(frozen=True)
class TargetExample:
    """Sentiment of `text` toward the target at [start, end)."""

    text: str
    start: int
    end: int
    label: str  # positive / negative / neutral
    group: str


@dataclass(frozen=True)
class TopicExample:
    """Stance of the author of `text` toward `topic`."""

    text: str
    topic: str
    label: str  # favor / against / neutral
    group: str
    seen: int = -1  # VAST: 1 few-shot topic, 0 zero-shot topic


def _path(root: Path, *parts: str) -> Path:
    path = root.joinpath(*parts)
    if not path.exists():
        raise DatasetMissing(f"{path} not found (set STANCE_DATASETS_DIR to the folder holding the public datasets)")
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def file_dataset(path: Path, name: str):
    """An MLflow dataset that references a data file by path and digest: its texts stay where they are."""
    import warnings

    import mlflow
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mlflow: "source can be interpreted in multiple ways"
        return mlflow.data.from_pandas(pd.DataFrame({"file": [str(path)]}), source=str(path), name=name,
                                       digest=file_digest(path))


NEWSMTSC_POLARITY = {2.0: "negative", 4.0: "neutral", 6.0: "positive"}


def load_newsmtsc(root: Path, split: str) -> list[TargetExample]:
    """NewsMTSC (Hamborg & Donnay 2021): `train`, `dev_rw`, `dev_mt`; one example per target."""
    path = _path(root, "newsmtsc", f"{split}.jsonl")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for t in rec["targets"]:
            out.append(TargetExample(rec["sentence_normalized"], int(t["from"]), int(t["to"]),
                                     NEWSMTSC_POLARITY[float(t["polarity"])], rec["primary_gid"]))
    return out


VAST_LABELS = {"0": "against", "1": "favor", "2": "neutral"}


def load_vast(root: Path, split: str) -> list[TopicExample]:
    """VAST (Allaway & McKeown 2020): `train` (full columns) or `dev` (Tweet, Target, Stance, seen?)."""
    path = _path(root, "vast", f"{split}.csv")
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if "post" in row:
                text, topic, label, seen = row["post"], row["topic_str"], row["label"], row.get("seen?", "-1")
            else:
                text, topic, label, seen = row["Tweet"], row["Target"], row["Stance"], row.get("seen?", "-1")
            out.append(TopicExample(text, topic, VAST_LABELS[str(label).strip()],
                                    hashlib.sha1(text.encode()).hexdigest()[:10], int(float(seen or -1))))
    return out


RUW_LABELS = {"FAVOR": "favor", "AGAINST": "against", "NONE": "neutral"}


def load_ruw(root: Path, split: str) -> list[TopicExample]:
    """RUW: each tweet gives two examples, the author's stance toward Russia and toward Ukraine."""
    path = _path(root, "ruw", f"{split}.csv")
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f)):
            for k in ("1", "2"):
                out.append(TopicExample(row["Tweet"], row[f"Target {k}"], RUW_LABELS[row[f"Stance {k}"].strip()],
                                        f"ruw{n}"))
    return out


IBM_LABELS = {"PRO": "favor", "CON": "against"}


def load_ibm(root: Path, split: str = "train") -> list[TopicExample]:
    """IBM Debater claim stance (Bar-Haim et al. 2017): claim text, topic target, PRO/CON; grouped by topic."""
    path = _path(root, "ibm_claim_stance", f"{split}.csv")
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.append(TopicExample(row["claims.claimCorrectedText"], row["topicTarget"],
                                    IBM_LABELS[row["claims.stance"].strip()], row["topicId"]))
    return out
