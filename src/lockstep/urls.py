"""URL normalisation and registered-domain extraction, offline.

One definition serves both faces: the normalisation is a DuckDB SQL macro
(:data:`NORMALIZE_URL_SQL`), used vectorised by the ingest pipeline over millions of rows
and, through :func:`normalize_url`, by Python callers (notebooks, tests). Registered domains
come from ``tldextract`` with its bundled Public Suffix List snapshot and no network access
(``suffix_list_urls=()``), applied to distinct hosts only.

Rules of :func:`normalize_url`, in order:

1. Surrounding whitespace is removed; a value with no ``scheme://`` gets ``http://`` when it
   looks like a host name (``example.com/x``); anything else (an opaque code such as an
   anonymised url id) is kept verbatim, because it is an identifier, not a URL.
2. Scheme and host are lower-cased; a leading ``www.`` (also ``www2.`` ...) is dropped;
   default ports (``:80`` for http, ``:443`` for https) and ``user:password@`` are dropped.
3. The ``#fragment`` is dropped.
4. Tracking parameters are dropped from the query: ``utm_*``, ``fbclid``, ``gclid``, ``dclid``,
   ``gbraid``, ``wbraid``, ``msclkid``, ``yclid``, ``igshid``, ``mc_cid``, ``mc_eid``, ``_ga``,
   ``_gl``, ``mkt_tok``, ``ref_src``, ``ref_url``, ``__tn__``, ``__cft__[0]``-style
   ``__*`` parameters. Other parameters keep their order; an empty query drops the ``?``.
5. A trailing ``/`` is dropped from the path (the root path becomes empty).

The scheme is kept (``http`` and ``https`` stay distinct): they are usually the same page, but
merging them is a policy a detector can apply on top; normalisation stays conservative.
"""
from __future__ import annotations

import functools
import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["normalize_url", "registered_domain", "host_of", "NORMALIZE_URL_SQL",
           "install_url_functions", "url_map_select", "url_map_table"]

_TRACKING = r"(utm_[^=&]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl|mkt_tok|ref_src|ref_url|__[^=&]*)"

#: DuckDB macros: ``lockstep_norm_url(u)`` and ``lockstep_url_host(normalised)``.
NORMALIZE_URL_SQL = rf"""
CREATE OR REPLACE MACRO lockstep_url_parts(u) AS
    regexp_extract(
        CASE
            WHEN regexp_matches(trim(u), '^[A-Za-z][A-Za-z0-9+.-]*://') THEN trim(u)
            WHEN regexp_matches(trim(u), '^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]+)?([/?#]|$)')
                THEN 'http://' || trim(u)
            ELSE NULL
        END,
        '^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@]*@)?([^/?#]*)([^?#]*)(\?[^#]*)?',
        ['scheme', 'host', 'path', 'query']);
CREATE OR REPLACE MACRO lockstep_norm_host(scheme, host) AS
    CASE WHEN NOT (host ILIKE 'www%' OR contains(host, ':')) THEN lower(host)  -- fast path
    ELSE CASE lower(scheme)
        WHEN 'http' THEN regexp_replace(lower(host), '^www[0-9]*\.|:80$', '', 'g')
        WHEN 'https' THEN regexp_replace(lower(host), '^www[0-9]*\.|:443$', '', 'g')
        ELSE regexp_replace(lower(host), '^www[0-9]*\.', '')
    END END;
CREATE OR REPLACE MACRO lockstep_norm_query(q) AS
    -- each parameter gets its own pair of '&' so that one global replace drops every
    -- tracking parameter; then runs of '&' (empty parameters) collapse (no lambda: cheaper)
    trim(regexp_replace(regexp_replace('&' || replace(ltrim(q, '?'), '&', '&&') || '&',
                                       '&{_TRACKING}(=[^&]*)?&', '', 'g'), '&+', '&', 'g'), '&');
CREATE OR REPLACE MACRO lockstep_norm_parts(p, orig) AS
    CASE
        WHEN orig IS NULL OR trim(orig) = '' THEN NULL
        WHEN coalesce(p.scheme, '') = '' THEN trim(orig)
        ELSE lower(p.scheme) || '://' || lockstep_norm_host(p.scheme, p.host)
             || rtrim(p.path, '/')
             || CASE WHEN p.query = '' OR p.query = '?' THEN ''
                     ELSE coalesce('?' || nullif(lockstep_norm_query(p.query), ''), '') END
    END;
CREATE OR REPLACE MACRO lockstep_norm_simple(u) AS
    -- fast path, NULL unless u is scheme://host[/path] with a lower-case scheme and host and
    -- no port, user, query, fragment or white space: then only a trailing '/' and a leading
    -- www. go (one DFA match instead of the parse with capture groups: ~4x cheaper)
    CASE WHEN regexp_full_match(u, '[a-z][a-z0-9+.-]*://[a-z0-9-]+(\.[a-z0-9-]+)*(/[^?#\s]*)?')
         THEN regexp_replace(rtrim(u, '/'), '^([a-z][a-z0-9+.-]*://)www[0-9]*\.', '\1') END;
CREATE OR REPLACE MACRO lockstep_norm_url_full(u) AS
    -- the one-element list binds the parsed parts once (a macro argument is re-evaluated
    -- wherever it appears; this keeps the regex parse to one per URL)
    list_transform([lockstep_url_parts(u)], lambda p: lockstep_norm_parts(p, u))[1];
CREATE OR REPLACE MACRO lockstep_norm_url(u) AS
    coalesce(lockstep_norm_simple(u), lockstep_norm_url_full(u));
CREATE OR REPLACE MACRO lockstep_url_host(n) AS
    CASE WHEN regexp_matches(n, '^[a-z][a-z0-9+.-]*://')
         THEN regexp_replace(regexp_extract(n, '^[a-z][a-z0-9+.-]*://([^/?#]*)', 1), ':[0-9]+$', '')
         ELSE NULL END;
"""

def url_map_select(source: str) -> str:
    """``SELECT url, url_key, host`` for each ``url`` that the SELECT ``source`` yields.

    ``url_key`` is ``lockstep_norm_url(url)``; ``host`` its host without a port, NULL for an
    opaque id. Computed in projections of their own: URLs of the simple shape take
    ``lockstep_norm_simple`` (their host is what follows ``://``), the others are parsed once,
    without the binding lambda of ``lockstep_norm_url_full``, and their host comes from the
    parse (DuckDB keeps the projections apart).
    """
    return ("SELECT url, url_key, CASE WHEN s IS NOT NULL THEN split_part(split_part(s, '://', 2), "
            "'/', 1) ELSE h END AS host FROM ("
            "SELECT url, s, coalesce(s, lockstep_norm_parts(p, url)) AS url_key, "
            "CASE WHEN s IS NULL AND coalesce(p.scheme, '') <> '' THEN regexp_replace("
            "lockstep_norm_host(p.scheme, p.host), ':[0-9]+$', '') END AS h FROM ("
            "SELECT url, s, CASE WHEN s IS NULL THEN lockstep_url_parts(url) END AS p FROM ("
            f"SELECT url, lockstep_norm_simple(url) AS s FROM ({source}))))")


def url_map_table(con: duckdb.DuckDBPyConnection, source: str) -> pa.Table:
    """``url, url_key, host, domain`` for each ``url`` of the SELECT ``source`` (distinct URLs),
    as an Arrow table: keys and hosts by :func:`url_map_select` on ``con`` (which needs
    :func:`install_url_functions`), registered domains once per distinct host."""
    urls = con.sql(url_map_select(source)).to_arrow_table()
    hosts = pc.unique(urls.column("host"))
    domains = pa.array([registered_domain(h) for h in hosts.to_pylist()], pa.string())
    return urls.append_column("domain", pc.take(domains, pc.index_in(urls.column("host"), hosts)))


_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


def install_url_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Define the ``lockstep_*`` URL macros on a DuckDB connection."""
    con.execute(NORMALIZE_URL_SQL)


def _connection() -> duckdb.DuckDBPyConnection:
    global _con
    if _con is None:
        _con = duckdb.connect()
        install_url_functions(_con)
    return _con


def normalize_url(url: str | None) -> str | None:
    """Return the canonical form of ``url`` (see the module docstring), or None if empty.

    Examples
    --------
    >>> normalize_url("HTTPS://WWW.Example.com/a/?utm_source=x&id=3#top")
    'https://example.com/a?id=3'
    >>> normalize_url("12345") is None
    False
    """
    if url is None or not url.strip():
        return None
    with _lock:
        row = _connection().execute("SELECT lockstep_norm_url(?)", [url]).fetchone()
    return None if row is None else row[0]


def host_of(normalised: str | None) -> str | None:
    """Host of an already normalised URL, or None for an opaque identifier."""
    if not normalised:
        return None
    with _lock:
        row = _connection().execute("SELECT lockstep_url_host(?)", [normalised]).fetchone()
    return None if row is None or not row[0] else row[0]


@functools.lru_cache(maxsize=1)
def _extractor():  # type: ignore[no-untyped-def]
    import tldextract

    # suffix_list_urls=(): never download, use the snapshot bundled with the package.
    # Private suffixes (github.io, blogspot.com) count: each such site is its own outlet.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                include_psl_private_domains=True)


@functools.lru_cache(maxsize=500_000)
def registered_domain(host: str | None) -> str | None:
    """The registrable domain of a host (``news.bbc.co.uk`` -> ``bbc.co.uk``), offline.

    An IP address is its own domain; a host with no public suffix returns the host itself.

    Examples
    --------
    >>> registered_domain("news.bbc.co.uk")
    'bbc.co.uk'
    """
    if not host:
        return None
    host = host.lower().rstrip(".")
    ext = _extractor()(host)
    if not ext.suffix:
        return ext.domain or host
    if not ext.domain:
        return host
    return f"{ext.domain}.{ext.suffix}"
