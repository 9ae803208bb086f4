"""Reader for Telegram Desktop chat exports (``result.json``, "Export chat history" as JSON).

The document is ``{"name", "type", "id", "messages": [...]}``. It is read with a small
incremental parser (:class:`JsonMessageStream`): the top-level keys are decoded one by one
and the ``messages`` array one message at a time from a sliding text buffer, so memory holds
one message plus a 1 MiB block, whatever the file's size (``ijson`` is not a dependency).
``_line`` is the line on which the message's ``{`` stands: Desktop pretty-prints, so that is
the message's first line in the file.

Messages of type ``message`` → ``events`` (service messages are skipped):

- ``event_id`` = ``<chat>:<message id>``: message ids are unique only within a chat, so they
  are prefixed with the chat's peer id, written the way ``from_id`` writes peers:
  ``channel<id>`` for channels and supergroups, ``chat<id>`` for basic groups, ``user<id>``
  for personal and bot chats (e.g. ``channel1234567890:42``). The same key is ``venue_id``.
- ``account_id`` = ``from_id`` (``channel123`` / ``user123``; an old numeric ``from_id`` is
  written ``user<n>``), else the chat itself.
- ``timestamp`` = ``date_unixtime`` (epoch seconds as a string). Exports older than that
  field only have ``date``, the local time of the exporting PC without a zone: it is passed
  on as written, which the pipeline reads as UTC, so such times are off by the exporter's
  UTC offset (relative timing within the file is unaffected except across DST changes).
- ``action`` = ``forward`` when ``forwarded_from`` or ``forwarded_from_id`` is present, else
  ``reply`` when ``reply_to_message_id`` is, else ``post``. ``reposted_id`` =
  ``forwarded_from_id`` (the source peer: Desktop exports do not give the original message
  id; when a ``forwarded_message_id`` key is present it is appended as ``<peer>:<id>``);
  the source's display name goes to extension ``forwarded_from``. ``replied_id`` =
  ``<chat>:<reply_to_message_id>`` (``reply_to_peer_id`` replaces the chat when present).
- ``text`` is flattened from its string-or-array form. From ``text_entities`` (or the
  array's entity objects in exports without it): ``link`` text and ``text_link`` ``href``
  → ``urls``; ``hashtag`` → ``hashtags`` (``#`` stripped); ``mention`` → ``mentions``
  (username, ``@`` stripped) and ``mention_name`` → ``mentions`` (``user<user_id>``).

``accounts``: the chat itself (``kind`` ``channel`` for ``public_channel`` /
``private_channel``, ``group`` for groups and supergroups, ``user`` for personal chats,
``display_name`` = ``name``), then each sender seen (``from`` → ``display_name``).
Full-account exports (``chats.list``) are refused: export single chats. Platform
``telegram`` unless given.
"""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.exceptions import BadInputError
from lockstep.readers._util import REENCODE_HINT, ChunkBuilder, bad_input, read_head
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, Chunk

__all__ = ["TelegramReader", "JsonMessageStream"]

_BLOCK = 1 << 20
_MAX_VALUE = 64 << 20
_WS = re.compile(r"[ \t\r\n]*")
#: Desktop chat type -> (peer id prefix, account kind).
_CHAT_TYPES = {"public_channel": ("channel", "channel"),
               "private_channel": ("channel", "channel"),
               "public_supergroup": ("channel", "group"),
               "private_supergroup": ("channel", "group"),
               "private_group": ("chat", "group"), "personal_chat": ("user", "user"),
               "bot_chat": ("user", "user"), "saved_messages": ("user", "user")}
_FULL_EXPORT_KEYS = {"chats", "left_chats", "contacts", "frequent_contacts",
                     "personal_information", "profile_pictures"}
_SNIFF = re.compile(r'"type"\s*:\s*"(' + "|".join(_CHAT_TYPES) + r')"')
_PEER_KINDS = {"user": "user", "channel": "channel", "chat": "group"}
#: Extension columns (True: list column).
EVENT_EXTENSIONS = {"forwarded_from": False}


class JsonMessageStream:
    """Stream a ``{..., "messages": [...]}`` JSON document without loading it whole.

    Parameters
    ----------
    path : Path
        The JSON file (UTF-8).

    Notes
    -----
    :meth:`items` yields ``("key", line, (name, value))`` for each other top-level key and
    ``("message", line, value)`` for each element of ``messages``. Errors (invalid UTF-8,
    invalid or truncated JSON) raise :class:`BadInputError` with the line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._newlines = 0          # newlines decoded so far (for UTF-8 error lines)
        self._line_pos = 0          # a position in _buf whose line is known ...
        self._line_no = 1           # ... and that line

    def _fill(self, fh: Any) -> bool:
        if self._eof:
            return False
        block = fh.read(_BLOCK)
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            start = max(exc.start - pending, 0)
            line = self._newlines + block[:start].count(b"\n") + 1
            raise bad_input(self.path, line, f"invalid UTF-8 (bytes {block[start:start + 4]!r}); "
                                             f"{REENCODE_HINT}") from None
        if not self._buf and not self._newlines and text.startswith("\ufeff"):
            text = text[1:]
        self._newlines += text.count("\n")
        self._buf += text
        self._eof = not block
        return bool(block)

    def line_at(self, position: int) -> int:
        """Return the 1-based line of ``position`` in the buffer (positions only move on)."""
        self._line_no += self._buf.count("\n", self._line_pos, position)
        self._line_pos = position
        return self._line_no

    def _error(self, position: int, reason: str) -> BadInputError:
        return bad_input(self.path, self.line_at(max(position, self._line_pos)), reason)

    def _peek(self, fh: Any) -> str:
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill(fh):
                return ""

    def _expect(self, fh: Any, char: str, where: str) -> None:
        found = self._peek(fh)
        if found != char:
            shown = repr(found) if found else "the end of the file (truncated JSON?)"
            raise self._error(self._pos, f"invalid JSON: expected {char!r} {where}, "
                                         f"found {shown}")
        self._pos += 1

    def _value(self, fh: Any) -> Any:
        if not self._peek(fh):
            raise self._error(self._pos, "truncated JSON: the file ends where a value should be")
        while True:
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos < _MAX_VALUE and self._fill(fh):
                    continue
                what = "truncated JSON" if self._eof and ("Unterminated" in exc.msg or
                                                          exc.pos >= len(self._buf) - 1) \
                    else "invalid JSON"
                raise self._error(exc.pos, f"{what}: {exc.msg}") from None
            except RecursionError:
                raise self._error(self._pos, "invalid JSON: nested too deeply") from None
            if end == len(self._buf) and self._fill(fh):
                continue  # a number may go on in the next block: decode again
            self._pos = end
            return value

    def _compact(self) -> None:
        if self._pos > _BLOCK:
            self.line_at(self._pos)
            self._buf = self._buf[self._pos:]
            self._line_pos -= self._pos
            self._pos = 0

    def items(self) -> Iterator[tuple[str, int, Any]]:
        """Yield the top-level keys and the messages, in file order."""
        with open(self.path, "rb") as fh:
            first = self._peek(fh)
            if not first:
                raise bad_input(self.path, None, "empty file: expected a Telegram result.json")
            self._expect(fh, "{", "at the start of the document")
            closing = self._peek(fh) == "}"
            while not closing:
                line = self.line_at(self._pos)
                key = self._value(fh)
                if not isinstance(key, str):
                    raise self._error(self._pos, "invalid JSON: expected a key string")
                if key in _FULL_EXPORT_KEYS:
                    raise bad_input(self.path, line, "this is a full-account Telegram export; "
                                    "export each chat with 'Export chat history' (JSON)")
                self._expect(fh, ":", f"after key {key!r}")
                if key == "messages" and self._peek(fh) == "[":
                    self._pos += 1
                    more = self._peek(fh) != "]"
                    while more:
                        line = self.line_at(self._pos)
                        yield "message", line, self._value(fh)
                        self._compact()
                        more = self._peek(fh) == ","
                        if more:
                            self._pos += 1
                    self._expect(fh, "]", "or ',' between messages")
                else:
                    yield "key", line, (key, self._value(fh))
                closing = self._peek(fh) != ","
                if not closing:
                    self._pos += 1
            self._expect(fh, "}", "or ',' between top-level keys")
            if self._peek(fh):
                raise self._error(self._pos, "invalid JSON: extra data after the document")


def _flat_text(text: Any) -> str | None:
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", ""))
                       for p in text if isinstance(p, (str, dict)))
    return None


def _peer(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"user{value}"
    text = str(value).strip()
    return f"user{text}" if text.isdigit() else (text or None)


def _id(value: Any) -> str | None:
    return None if value is None or isinstance(value, (bool, dict, list)) else \
        (str(value).strip() or None)


class TelegramReader:
    """Read a Telegram Desktop single-chat JSON export (``result.json``).

    Attributes
    ----------
    name : str
        ``"telegram"``.
    description : str
        One line for ``lockstep ingest --help``.

    See Also
    --------
    lockstep.readers.base.Reader : the contract this class implements.
    """

    name = "telegram"
    description = "Telegram Desktop chat export (result.json of one channel, group or chat)"

    def sniff(self, path: Path) -> bool:
        """Return True for a JSON object whose start names a chat type and a message list."""
        head = read_head(Path(path))
        return bool(head) and head.lstrip().startswith("{") and \
            _SNIFF.search(head) is not None and re.search(r'"messages"\s*:\s*\[', head) \
            is not None

    def read(self, path: Path, *, platform: str | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield ``events`` chunks as messages stream in, then ``accounts``.

        Parameters
        ----------
        path : Path
            The ``result.json`` file.
        platform : str, optional
            Overrides ``telegram``.
        chunk_rows : int
            The most rows per chunk.

        Yields
        ------
        Chunk
            ``events`` (extension ``forwarded_from``) and ``accounts`` chunks.

        Raises
        ------
        BadInputError
            For an empty file, invalid UTF-8, invalid or truncated JSON, or a full-account
            export.
        """
        path = Path(path)
        plat = platform or "telegram"
        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        chat: dict[str, Any] = {}
        senders: dict[str, dict[str, Any]] = {}
        pending: list[tuple[int, Any]] = []
        for what, line, value in JsonMessageStream(path).items():
            if what == "key":
                chat[value[0]] = value[1]
                continue
            if "id" not in chat:
                pending.append((line, value))  # messages before the chat id: rare, kept
                continue
            for row in self._rows(pending + [(line, value)], chat, plat, senders):
                chunk = events.add(row)
                if chunk:
                    yield chunk
            pending = []
        for row in self._rows(pending, chat, plat, senders):
            chunk = events.add(row)
            if chunk:
                yield chunk
        last = events.flush()
        if last:
            yield last
        accounts = ChunkBuilder("accounts", str(path), chunk_rows)
        key, kind = self._chat_key(chat)
        if key:
            chunk = accounts.add({"platform": plat, "account_id": key, "kind": kind,
                                  "display_name": _id(chat.get("name")), "_line": 1})
            if chunk:
                yield chunk
        for sender in senders.values():
            if sender["account_id"] != key:
                chunk = accounts.add(sender)
                if chunk:
                    yield chunk
        last = accounts.flush()
        if last:
            yield last

    @staticmethod
    def _chat_key(chat: dict[str, Any]) -> tuple[str | None, str]:
        """Return the chat's peer id (``channel123``) and its account kind."""
        prefix, kind = _CHAT_TYPES.get(str(chat.get("type")), ("", "user"))
        raw = _id(chat.get("id"))
        if raw is None:
            return None, kind
        return (f"{prefix}{raw}" if raw.lstrip("-").isdigit() else raw), kind

    def _rows(self, messages: list[tuple[int, Any]], chat: dict[str, Any], plat: str,
              senders: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
        chat_key, _ = self._chat_key(chat)
        for line, message in messages:
            if not isinstance(message, dict):
                yield {"platform": plat, "_line": line, "_error": "message is not a JSON object"}
                continue
            if message.get("type", "message") != "message":
                continue  # service messages (joins, pins, title changes ...)
            yield self._message(message, line, chat_key, plat, senders)

    @staticmethod
    def _message(message: dict[str, Any], line: int, chat_key: str | None, plat: str,
                 senders: dict[str, dict[str, Any]]) -> dict[str, Any]:
        errors = []
        message_id = _id(message.get("id"))
        if message_id is None:
            errors.append("message has no id")
        if chat_key is None:
            errors.append("the export has no chat id")
        account = _peer(message.get("from_id")) or chat_key
        if account and account not in senders and message.get("from_id") is not None:
            prefix = re.match(r"[a-z]*", account).group(0)
            senders[account] = {"platform": plat, "account_id": account,
                                "kind": _PEER_KINDS.get(prefix, "user"),
                                "display_name": _id(message.get("from")), "_line": line}
        unix = _id(message.get("date_unixtime"))
        timestamp = unix if unix and unix.isdigit() else _id(message.get("date"))
        if not timestamp:
            errors.append("message has no date_unixtime or date")
        forwarded = _peer(message.get("forwarded_from_id"))
        if forwarded and _id(message.get("forwarded_message_id")):
            forwarded = f"{forwarded}:{_id(message['forwarded_message_id'])}"
        reply = _id(message.get("reply_to_message_id"))
        reply_chat = _peer(message.get("reply_to_peer_id")) or chat_key
        is_forward = forwarded is not None or message.get("forwarded_from") is not None
        entities = message.get("text_entities")
        if not isinstance(entities, list):
            text = message.get("text")
            entities = [p for p in text if isinstance(p, dict)] if isinstance(text, list) else []
        urls, hashtags, mentions = [], [], []
        for entity in entities:
            if not isinstance(entity, dict):
                continue
            kind, value = entity.get("type"), _id(entity.get("text"))
            if kind == "link":
                urls.append(value)
            elif kind == "text_link":
                urls.append(_id(entity.get("href")))
            elif kind == "hashtag" and value:
                hashtags.append(value.lstrip("#"))
            elif kind == "mention" and value:
                mentions.append(value.lstrip("@"))
            elif kind == "mention_name":
                mentions.append(_peer(entity.get("user_id")) or value)
        return {
            "platform": plat,
            "event_id": f"{chat_key}:{message_id}" if chat_key and message_id else None,
            "account_id": account, "timestamp": timestamp,
            "action": "forward" if is_forward else "reply" if reply else "post",
            "text": _flat_text(message.get("text")), "urls": urls, "hashtags": hashtags,
            "mentions": mentions, "reposted_id": forwarded,
            "replied_id": f"{reply_chat}:{reply}" if reply and reply_chat else None,
            "venue_id": chat_key, "forwarded_from": _id(message.get("forwarded_from")),
            "_line": line, "_error": "; ".join(errors) or None,
        }
