"""Readers for the formats users hold; :mod:`lockstep.ingestion` stores what they read."""
from __future__ import annotations

from lockstep.readers.base import Chunk, Reader
from lockstep.readers.registry import FORMATS, detect_format, get_reader

__all__ = ["Chunk", "Reader", "FORMATS", "detect_format", "get_reader"]
