"""The actor registry and issue taxonomy: user-extendable data files that the extraction pipeline reads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from training.corpus import Issue, load_issues


@dataclass(frozen=True)
class KnownActor:
    id: str
    name: str
    kind: str
    affiliation: str
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...] = ()
    # Role nouns that refer back to this actor once it is named ("party" for the Kuomintang).
    roles: tuple[str, ...] = ()


@dataclass
class ActorRegistry:
    """Known actors by id, with a case-sensitive alias index (aliases without a leading article)."""

    actors: dict[str, KnownActor] = field(default_factory=dict)
    by_alias: dict[str, str] = field(default_factory=dict)
    by_demonym: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_jsonl(cls, path: Path) -> "ActorRegistry":
        reg = cls()
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                actor = KnownActor(
                    obj["id"], obj["name"], obj["kind"], obj.get("affiliation", ""),
                    tuple(obj["aliases"]), tuple(obj.get("demonyms", ())), tuple(obj.get("roles", ())),
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: bad actor record ({exc})") from exc
            reg.add(actor)
        return reg

    def add(self, actor: KnownActor) -> None:
        self.actors[actor.id] = actor
        for alias in (actor.name, *actor.aliases):
            self.by_alias.setdefault(normalize_alias(alias), actor.id)
        for dem in actor.demonyms:
            self.by_demonym.setdefault(dem.lower(), actor.id)

    def lookup(self, text: str) -> str | None:
        return self.by_alias.get(normalize_alias(text))


_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def normalize_alias(text: str) -> str:
    """Key for alias lookup: whitespace collapsed, leading article and possessive 's dropped, case kept."""
    text = " ".join(text.split())
    text = _ARTICLE.sub("", text)
    if text.endswith(("'s", "’s")):
        text = text[:-2]
    return text


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "actor"


@dataclass(frozen=True)
class Taxonomy:
    """The issues the pipeline looks for by default, in file order."""

    issues: dict[str, Issue]

    @classmethod
    def from_jsonl(cls, path: Path) -> "Taxonomy":
        return cls(load_issues(path))
