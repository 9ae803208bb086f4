"""The stored (canonical) schema of a workspace, version 2.

Each table is a Parquet dataset under ``<workspace>/<table>/ingest_id=<ingest>/``, partitioned
Hive-style by the ingest that added the rows, so DuckDB, Spark (``spark.read.parquet(dir)``)
and pandas read it with no conversion; ``platform`` is a column. (Version 1 partitioned by
platform: DuckDB's partitioned write cost 2.3 of a 12.5 s ingest write on the large world, and
an ingest is the unit that is committed, and could be undone, as a whole.)

Identifiers are strings everywhere; timestamps are UTC (``TIMESTAMP WITH TIME ZONE``,
microseconds) with the source precision kept beside them (``ts_precision``: ``us``, ``ms``,
``s``, ``min`` or ``day``). ``extra`` holds any columns of the input that the format
does not define, as a JSON object, so nothing a user supplied is thrown away.

The objects an event acts on are not stored twice: the ``objects`` view (see
:data:`OBJECTS_VIEW_SQL`) unnests them from ``events`` as ``(object_type, object_id)``, with the
types ``url`` (normalised), ``domain`` (registered domain), ``post`` (re-shared post),
``reply`` (post replied to), ``hashtag`` (lower-cased), ``image`` (lower-cased hash),
``mention``, ``venue``, ``object`` (opaque, e.g. CooRTweet's ``object_id``) and ``author`` (the
page or channel whose post was re-shared or replied to, when both are in the data).

URLs are stored on the event as written (``urls``); the ``url_map`` table maps each URL ever
seen to its normalised key, host and registered domain, and the ``objects`` view joins it.
Ingest normalises each distinct new URL once, after the events are written, instead of every
occurrence inside the write: on the large world 949k occurrences are 413k distinct URLs, and
normalising inside the write cost 3.1 of its 16.6 s. Domains given as such (``domains``
column) are stored on the event. (Version 1 stored ``url_keys`` per event and a ``hosts``
table.)
"""
from __future__ import annotations

__all__ = ["SCALAR_OBJECTS", "SCHEMA_VERSION", "TABLE_COLUMNS", "TABLE_KEYS", "NO_PLATFORM", "OBJECT_TYPES", "OBJECTS_VIEW_SQL",
           "empty_select"]

SCHEMA_VERSION = 2

#: Stored columns (besides ``platform``) and their DuckDB types; ``ingest_id`` is the partition.
TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (
        ("event_id", "VARCHAR"), ("account_id", "VARCHAR"), ("ts", "TIMESTAMPTZ"),
        ("ts_precision", "VARCHAR"), ("action", "VARCHAR"), ("text", "VARCHAR"),
        ("urls", "VARCHAR[]"), ("domains", "VARCHAR[]"),
        ("hashtags", "VARCHAR[]"), ("mentions", "VARCHAR[]"), ("reposted_id", "VARCHAR"),
        ("replied_id", "VARCHAR"), ("image_hashes", "VARCHAR[]"), ("venue_id", "VARCHAR"),
        ("object_ids", "VARCHAR[]"), ("client_ts", "TIMESTAMPTZ"), ("extra", "VARCHAR"),
        ("ingest_id", "VARCHAR"),
    ),
    "accounts": (
        ("account_id", "VARCHAR"), ("kind", "VARCHAR"), ("handle", "VARCHAR"),
        ("display_name", "VARCHAR"), ("bio", "VARCHAR"), ("created_at", "TIMESTAMPTZ"),
        ("claimed_country", "VARCHAR"), ("followers", "BIGINT"), ("verified", "BOOLEAN"),
        ("extra", "VARCHAR"), ("ingest_id", "VARCHAR"),
    ),
    "sessions": (
        ("account_id", "VARCHAR"), ("ts", "TIMESTAMPTZ"), ("ts_precision", "VARCHAR"),
        ("ip", "VARCHAR"), ("device_id", "VARCHAR"), ("user_agent", "VARCHAR"),
        ("country", "VARCHAR"), ("extra", "VARCHAR"), ("ingest_id", "VARCHAR"),
    ),
    "roles": (
        ("account_id", "VARCHAR"), ("asset_id", "VARCHAR"), ("role", "VARCHAR"),
        ("since", "TIMESTAMPTZ"), ("extra", "VARCHAR"), ("ingest_id", "VARCHAR"),
    ),
    "truth": (
        ("account_id", "VARCHAR"), ("network_id", "VARCHAR"), ("network_kind", "VARCHAR"),
        ("operator_id", "VARCHAR"), ("extra", "VARCHAR"), ("ingest_id", "VARCHAR"),
    ),
    # each URL seen, as written -> its normalised key, host and registered domain (no
    # platform column; host and domain are NULL for an opaque id)
    "url_map": (("url", "VARCHAR"), ("url_key", "VARCHAR"), ("host", "VARCHAR"),
                ("domain", "VARCHAR"), ("ingest_id", "VARCHAR")),
}

#: Tables without a ``platform`` column.
NO_PLATFORM = frozenset({"url_map"})

#: What makes a row unique; a row whose key is already stored is not added again.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "events": ("platform", "event_id"),
    "accounts": ("platform", "account_id"),
    "sessions": ("platform", "account_id", "ts", "ip", "device_id", "user_agent", "country"),
    "roles": ("platform", "account_id", "asset_id", "role"),
    "truth": ("platform", "account_id"),
    "url_map": ("url",),
}

OBJECT_TYPES = ("url", "domain", "post", "reply", "hashtag", "image", "mention", "venue",
                "object", "author")

_LIST_OBJECTS = {"hashtag": "hashtags",
                 "image": "image_hashes", "mention": "mentions", "object": "object_ids"}
#: Object types held in one column per event: type -> column.
SCALAR_OBJECTS = {"post": "reposted_id", "reply": "replied_id", "venue": "venue_id"}
_NORMALISE = {"hashtag": "lower(object_id)", "image": "lower(object_id)"}


def _objects_sql() -> str:
    # URLs: the key of each URL of the event, once per event (two URLs as written can share
    # a key: list_distinct of the URLs alone does not dedupe those)
    parts = [
        "SELECT DISTINCT e.platform, e.event_id, e.account_id, e.ts, e.action, 'url' AS "
        "object_type, m.url_key AS object_id FROM (SELECT platform, event_id, account_id, ts, "
        "action, unnest(list_distinct(urls)) AS url FROM events WHERE urls IS NOT NULL) e "
        "JOIN url_map m ON m.url = e.url"]
    for otype, col in _LIST_OBJECTS.items():
        oid = _NORMALISE.get(otype, "object_id")
        parts.append(
            f"SELECT platform, event_id, account_id, ts, action, '{otype}' AS object_type, "
            f"{oid} AS object_id FROM (SELECT platform, event_id, account_id, ts, action, "
            f"unnest(list_distinct({col})) AS object_id FROM events WHERE {col} IS NOT NULL)")
    # domains: those given as such, plus the registered domain of each URL's host
    parts.append(
        "SELECT DISTINCT platform, event_id, account_id, ts, action, 'domain' AS object_type, "
        "object_id FROM (SELECT platform, event_id, account_id, ts, action, "
        "unnest(domains) AS object_id FROM events WHERE domains IS NOT NULL UNION ALL "
        "SELECT e.platform, e.event_id, e.account_id, e.ts, e.action, m.domain FROM "
        "(SELECT platform, event_id, account_id, ts, action, unnest(urls) AS url "
        "FROM events WHERE urls IS NOT NULL) e JOIN url_map m ON m.url = e.url "
        "WHERE m.domain IS NOT NULL)")
    for otype, col in SCALAR_OBJECTS.items():
        parts.append(
            f"SELECT platform, event_id, account_id, ts, action, '{otype}' AS object_type, "
            f"{col} AS object_id FROM events WHERE {col} IS NOT NULL")
    # author: the page or channel whose post was re-shared or replied to (when that post and
    # the page are in the data), so that amplifying the same page is an object. Pages only:
    # friends who share each other's posts are not what this is for (on seed 11 small the
    # ordinary accounts it tied fell from 285 to 248 with as many operation accounts). DuckDB
    # prunes this join from queries that filter on another object type.
    parts.append(
        "SELECT e.platform, e.event_id, e.account_id, e.ts, e.action, 'author' AS object_type, "
        "t.account_id AS object_id FROM events e JOIN events t ON t.platform = e.platform "
        "AND t.event_id = coalesce(e.reposted_id, e.replied_id) "
        "WHERE coalesce(e.reposted_id, e.replied_id) IS NOT NULL "
        "AND t.account_id <> e.account_id AND EXISTS (SELECT 1 FROM accounts k WHERE "
        "k.platform = t.platform AND k.account_id = t.account_id "
        "AND k.kind IN ('page', 'channel'))")
    return "\nUNION ALL\n".join(parts)


#: The ``objects`` view: one row per (event, object acted on).
OBJECTS_VIEW_SQL = _objects_sql()


def empty_select(table: str) -> str:
    """A SELECT returning no rows with the stored columns of ``table`` (plus platform)."""
    cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in TABLE_COLUMNS[table])
    if table in NO_PLATFORM:
        return f"SELECT {cols} WHERE false"
    return f"SELECT {cols}, CAST(NULL AS VARCHAR) AS platform WHERE false"
