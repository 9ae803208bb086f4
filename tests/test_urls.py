from __future__ import annotations

import pytest

from lockstep.urls import host_of, normalize_url, registered_domain


@pytest.mark.parametrize("raw, expected", [
    ("HTTPS://WWW.Example.com/a/?utm_source=x&id=3#top", "https://example.com/a?id=3"),
    ("http://www.x.com:80/", "http://x.com"),
    ("https://x.com:443/p/", "https://x.com/p"),
    ("https://x.com:8443/p", "https://x.com:8443/p"),
    ("example.com/x/", "http://example.com/x"),
    ("https://a.b.co.uk/p?fbclid=IwAR0&gclid=1&utm_medium=s", "https://a.b.co.uk/p"),
    ("https://x.com/?a=1&utm_x=2&b=", "https://x.com?a=1&b="),
    ("https://x.com/p?b=2&a=1", "https://x.com/p?b=2&a=1"),  # order of real params kept
    ("http://user:pw@Host.COM/a//", "http://host.com/a"),
    ("  https://t.co/abc  ", "https://t.co/abc"),
    ("https://x.com/Path/Case", "https://x.com/Path/Case"),  # paths are case-sensitive
    ("12345", "12345"),  # opaque code: kept verbatim
    ("mailto:x@y.com", "mailto:x@y.com"),
])
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty_is_no_url(raw: str | None) -> None:
    assert normalize_url(raw) is None


def test_normalisation_is_idempotent() -> None:
    for raw in ["HTTPS://WWW.Example.com/a/?utm_source=x&id=3#top", "example.com/x/",
                "http://www2.news.example.org:80/a/b/?ref_src=tw"]:
        once = normalize_url(raw)
        assert normalize_url(once) == once


@pytest.mark.parametrize("host, domain", [
    ("news.bbc.co.uk", "bbc.co.uk"),
    ("www.example.com", "example.com"),
    ("a.b.c.example.com.au", "example.com.au"),
    ("localhost", "localhost"),
    ("192.168.1.1", "192.168.1.1"),
    ("user.github.io", "user.github.io"),  # private suffix from the bundled list
])
def test_registered_domain_offline(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_host_of() -> None:
    assert host_of(normalize_url("https://WWW.Example.com:8080/x")) == "example.com"
    assert host_of("12345") is None
