"""Reader for CrowdTangle historical CSV exports (Facebook pages and groups, Instagram).

Which export it is comes from the header: ``Facebook Id`` → Facebook (platform
``facebook``), ``Account`` + ``User Name`` without ``Facebook Id`` → Instagram (platform
``instagram``); the ``platform`` argument overrides either.

Events, one per row
    ``event_id`` = ``URL``, the post's permalink: the only identifier an export gives every
    post, unique across pages, groups and accounts (``Facebook Id`` is the page's id, not the
    post's). ``timestamp`` = ``Post Created`` (``2021-07-06 16:45:20 EDT``, local time with the
    dashboard's timezone abbreviation), converted to ISO with the offset
    (``2021-07-06T16:45:20-04:00``) through :data:`TZ_OFFSETS`; an unknown abbreviation or a
    time without one is an ``_error`` naming it. ``urls`` = ``Link`` then ``Final Link``
    (de-duplicated). ``text`` = ``Message`` on Facebook (``Description`` there is the link
    preview's text, not the poster's); on Instagram, which has no ``Message``, the caption
    ``Description``. ``account_id`` = ``Facebook Id`` (Facebook) or ``User Name``, the handle
    (Instagram exports give no numeric account id). ``venue_id`` = ``Facebook Id`` (the page
    or group the post appeared in). Extension ``post_type`` = ``Type`` (Link, Photo, ...).

Accounts, one per account (emitted after the events)
    ``Facebook Id`` / ``User Name`` → ``account_id``; ``Page Name`` / ``Group Name`` /
    ``Account`` → ``display_name``; ``User Name`` → ``handle``; ``Page Description`` →
    ``bio``; ``Page Created`` → ``created_at`` (converted like ``Post Created`` when it carries
    an abbreviation, else passed on as written); ``Page Admin Top Country`` →
    ``claimed_country`` and extension ``admin_country`` (where the admins sit);
    ``Followers at Posting`` at the account's latest post → ``followers`` (thousands
    separators removed). ``kind`` is ``group`` when the header has ``Group Name`` (group
    exports; the ``Type`` column is the *post's* type and says nothing about the account),
    ``page`` for other Facebook exports and ``user`` for Instagram.

The ``Overperforming Score (...)`` header changes with the weighting; it is not read.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from lockstep.readers._util import ChunkBuilder, CsvFile, clean_int, dedup, sniff_csv_header
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["CrowdTangleReader", "TZ_OFFSETS", "local_to_iso"]

#: UTC offsets of common timezone abbreviations. Ambiguous ones take the reading most likely
#: in a CrowdTangle dashboard: CST = US Central (not China), IST = India (not Ireland or
#: Israel), BST = British Summer Time (not Bangladesh), AST = Atlantic (not Arabia).
TZ_OFFSETS: dict[str, str] = {
    "UTC": "+00:00", "GMT": "+00:00", "Z": "+00:00", "WET": "+00:00", "WEST": "+01:00",
    "BST": "+01:00", "IST": "+05:30", "CET": "+01:00", "CEST": "+02:00", "MET": "+01:00",
    "MEST": "+02:00", "EET": "+02:00", "EEST": "+03:00", "MSK": "+03:00", "TRT": "+03:00",
    "EAT": "+03:00", "CAT": "+02:00", "WAT": "+01:00", "SAST": "+02:00", "IRST": "+03:30",
    "GST": "+04:00", "PKT": "+05:00", "NPT": "+05:45", "ICT": "+07:00", "WIB": "+07:00",
    "SGT": "+08:00", "HKT": "+08:00", "PHT": "+08:00", "MYT": "+08:00", "AWST": "+08:00",
    "KST": "+09:00", "JST": "+09:00", "ACST": "+09:30", "ACDT": "+10:30", "AEST": "+10:00",
    "AEDT": "+11:00", "NZST": "+12:00", "NZDT": "+13:00", "HST": "-10:00", "AKST": "-09:00",
    "AKDT": "-08:00", "PST": "-08:00", "PDT": "-07:00", "MST": "-07:00", "MDT": "-06:00",
    "CST": "-06:00", "CDT": "-05:00", "EST": "-05:00", "EDT": "-04:00", "AST": "-04:00",
    "ADT": "-03:00", "NST": "-03:30", "NDT": "-02:30", "BRT": "-03:00", "ART": "-03:00",
    "CLT": "-04:00", "CLST": "-03:00", "COT": "-05:00", "PET": "-05:00", "VET": "-04:00",
}

_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)(?:\s+(\S+))?$")
_OFFSET = re.compile(r"^[+-]\d{2}:?\d{2}$")
#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"post_type": False}
ACCOUNT_EXTENSIONS = {"admin_country": False}


def local_to_iso(value: str, column: str = "Post Created",
                 naive_ok: bool = False) -> tuple[str | None, str | None]:
    """Convert ``2021-07-06 16:45:20 EDT`` to ``2021-07-06T16:45:20-04:00``.

    Parameters
    ----------
    value : str
        A local time followed by a timezone abbreviation (or a numeric offset).
    column : str
        The column name, for error messages.
    naive_ok : bool
        Pass a time without an abbreviation on as written (naive = UTC) instead of failing.

    Returns
    -------
    tuple of (str or None, str or None)
        The ISO time and None, or None and the reason it could not be converted.
    """
    text = value.strip()
    if not text:
        return None, f"missing {column}"
    match = _LOCAL.match(text)
    if match is None:
        return None, f"{column} {text!r} is not a time like 2021-07-06 16:45:20 EDT"
    day, clock, zone = match.groups()
    clock = clock.zfill(8) if clock.count(":") == 2 else clock.zfill(5) + ":00"
    try:
        datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        return None, f"{column} {text!r} is not a valid date and time"
    if zone is None:
        if naive_ok:
            return f"{day}T{clock}", None
        return None, f"{column} {text!r} has no timezone abbreviation"
    if _OFFSET.match(zone):
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    else:
        offset = TZ_OFFSETS.get(zone.upper())
        if offset is None:
            return None, (f"unknown timezone abbreviation {zone!r} in {column} {text!r}; "
                          "convert the column to UTC offsets")
    return f"{day}T{clock}{offset}", None


class CrowdTangleReader:
    """Read CrowdTangle CSV exports of Facebook pages/groups or Instagram accounts.

    Attributes
    ----------
    name : str
        ``"crowdtangle"``.
    description : str
        One line for ``lockstep ingest --help``.

    See Also
    --------
    lockstep.readers.base.Reader : the contract this class implements.
    """

    name = "crowdtangle"
    description = "CrowdTangle CSV export (Facebook pages/groups or Instagram accounts)"

    def sniff(self, path: Path) -> bool:
        """Return True for a CSV with ``Post Created`` and a Facebook or Instagram header."""
        header = sniff_csv_header(Path(path))
        if header is None or "Post Created" not in header:
            return False
        names = set(header)
        return "Facebook Id" in names or {"Account", "User Name", "URL"} <= names

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield ``events`` chunks, then the ``accounts`` chunks.

        Parameters
        ----------
        path : Path
            The CSV export.
        platform : str, optional
            Overrides ``facebook`` / ``instagram``.
        chunk_rows : int
            The most rows per chunk.

        Yields
        ------
        Chunk
            ``events`` (extension ``post_type``), then ``accounts`` (extension
            ``admin_country``).

        Raises
        ------
        BadInputError
            For an empty file, invalid UTF-8, a CSV syntax error or a missing column
            (``Post Created``, ``URL``, and ``Facebook Id`` or ``User Name``).
        """
        path = Path(path)
        csv_file = CsvFile(path)
        index = csv_file.index
        facebook = "Facebook Id" in index
        plat = platform or ("facebook" if facebook else "instagram")
        csv_file.require("Post Created", "URL", "Facebook Id" if facebook else "User Name")
        kind = ("group" if "Group Name" in index else "page") if facebook else "user"
        id_column = "Facebook Id" if facebook else "User Name"
        name_columns = ("Page Name", "Group Name") if facebook else ("Account",)
        text_column = "Message" if facebook else "Description"

        def get(fields: list[str], name: str, strip: bool = True) -> str | None:
            position = index.get(name)
            if position is None:
                return None
            value = fields[position].strip() if strip else fields[position]
            return value if value.strip() else None

        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        latest: dict[str, tuple[datetime | None, dict[str, Any]]] = {}
        for line, fields, error in csv_file.rows():
            errors = [error] if error else []
            account_id = get(fields, id_column)
            timestamp, time_error = local_to_iso(fields[index["Post Created"]])
            errors += [time_error] if time_error else []
            url = get(fields, "URL")
            errors += [] if url else ["missing URL (the post's permalink, used as event id)"]
            errors += [] if account_id else [f"missing {id_column}"]
            chunk = events.add({
                "platform": plat, "event_id": url, "account_id": account_id,
                "timestamp": timestamp, "action": "post",
                "text": get(fields, text_column, strip=False),
                "urls": dedup([get(fields, "Link"), get(fields, "Final Link")]),
                "venue_id": account_id if facebook else None,
                "post_type": get(fields, "Type"),
                "_line": line, "_error": "; ".join(errors) or None,
            })
            if chunk:
                yield chunk
            if account_id:
                when = datetime.fromisoformat(timestamp) if timestamp else None
                previous = latest.get(account_id)
                if previous is None or (when is not None and (previous[0] is None
                                                              or when > previous[0])):
                    created, _ = local_to_iso(get(fields, "Page Created") or "",
                                              "Page Created", naive_ok=True)
                    country = get(fields, "Page Admin Top Country")
                    latest[account_id] = (when, {
                        "platform": plat, "account_id": account_id, "kind": kind,
                        "handle": get(fields, "User Name"),
                        "display_name": next((v for v in (get(fields, c) for c in name_columns)
                                              if v), None),
                        "bio": get(fields, "Page Description", strip=False),
                        "created_at": created, "claimed_country": country,
                        "admin_country": country,
                        "followers": clean_int(get(fields, "Followers at Posting")),
                        "_line": line,
                    })
        last = events.flush()
        if last:
            yield last
        accounts = ChunkBuilder("accounts", str(path), chunk_rows, ACCOUNT_EXTENSIONS)
        for _, row in sorted(latest.values(), key=lambda item: item[1]["_line"]):
            chunk = accounts.add(row)
            if chunk:
                yield chunk
        last = accounts.flush()
        if last:
            yield last
