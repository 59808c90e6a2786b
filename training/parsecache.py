"""spaCy parses cached as DocBin files, keyed by the texts and the pipeline, so retraining skips parsing."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, DocBin

logger = logging.getLogger(__name__)


def pipeline_key(nlp: Language) -> str:
    """Changes whenever the pipeline would parse differently (package version, components and their code,
    ruler patterns)."""
    from training import nlp as components

    h = hashlib.sha256(f"{nlp.meta.get('name')}-{nlp.meta.get('version')}-{nlp.pipe_names}".encode())
    h.update(Path(components.__file__).read_bytes())
    if "entity_ruler" in nlp.pipe_names:
        for p in sorted(str(p) for p in nlp.get_pipe("entity_ruler").patterns):
            h.update(p.encode())
    return h.hexdigest()[:12]


def parse_cached(nlp: Language, texts: list[str], cache_dir: Path | None, tag: str, batch_size: int = 64) -> list[Doc]:
    """Parse `texts` (in order), reading and writing `cache_dir/<tag>-<key>.spacy` when a cache dir is given."""
    if cache_dir is None:
        return list(nlp.pipe(texts, batch_size=batch_size))
    h = hashlib.sha256(pipeline_key(nlp).encode())
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    path = cache_dir / f"{tag}-{h.hexdigest()[:16]}.spacy"
    if path.exists():
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        if len(docs) == len(texts):
            logger.info("parses of %d %s texts read from %s", len(texts), tag, path)
            return docs
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    cache_dir.mkdir(parents=True, exist_ok=True)
    DocBin(store_user_data=True, docs=docs).to_disk(path)
    logger.info("parsed %d %s texts; cached at %s", len(texts), tag, path)
    return docs
