"""The formats Lockstep reads, by ``--format`` name, and auto-detection."""
from __future__ import annotations

import importlib
from pathlib import Path

from lockstep.exceptions import UsageError
from lockstep.readers.base import Reader

__all__ = ["FORMATS", "get_reader", "detect_format"]

#: ``--format`` name -> "module:Class"; imported only when used.
FORMATS: dict[str, str] = {
    "generic": "lockstep.readers.generic:GenericReader",
    "coortweet": "lockstep.readers.coortweet:CoorTweetReader",
    "x-archive": "lockstep.readers.x_archive:XArchiveReader",
    "twarc2": "lockstep.readers.twarc2:Twarc2Reader",
    "crowdtangle": "lockstep.readers.crowdtangle:CrowdTangleReader",
    "telegram": "lockstep.readers.telegram:TelegramReader",
    "bluesky": "lockstep.readers.bluesky:BlueskyReader",
}


def get_reader(name: str) -> Reader:
    """The reader for ``--format name``."""
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}, auto")
    module, cls = FORMATS[name].split(":")
    return getattr(importlib.import_module(module), cls)()  # type: ignore[no-any-return]


def detect_format(path: Path) -> str:
    """The one format that recognises ``path``; refuses when none or several do."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    hits = []
    for name in FORMATS:
        try:
            if get_reader(name).sniff(path):
                hits.append(name)
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(f"{path}: cannot tell the format; pass --format "
                         f"({', '.join(FORMATS)})")
    raise UsageError(f"{path}: could be {' or '.join(hits)}; pass --format to choose")
