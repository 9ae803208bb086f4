"""Readers for the formats users hold, and the ingest pipeline that stores them."""
from __future__ import annotations

from lockstep.ingest.base import Chunk, Reader
from lockstep.ingest.pipeline import FileReport, IngestReport, ingest, write_report
from lockstep.ingest.registry import FORMATS, detect_format, get_reader

__all__ = ["Chunk", "Reader", "FileReport", "IngestReport", "ingest", "write_report", "FORMATS",
           "detect_format", "get_reader"]
