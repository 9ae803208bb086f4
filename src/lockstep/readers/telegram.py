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
  That fallback holds for a whole file only: a ``date_unixtime`` that is present but not
  whole seconds, or missing from one message when others have it (or the other way round),
  is an ``_error`` row, never a silent switch to the zone-less ``date``.
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
Full-account exports (``chats.list``) are refused: export single chats. A document without
a ``messages`` list (missing, ``false``, an object ...) is refused: it is not a chat export,
and loading it would report a chat with no messages. Service messages are left out and
counted in :attr:`~lockstep.readers.base.Chunk.skipped`. Platform ``telegram`` unless given.

Design choices (one line each):

- The chat's ``id`` and each message's ``id`` must be strings or whole numbers: a decimal
  (``1.5``) or a boolean is an error, and ``NaN``/``Infinity``/``1e400`` are refused by the
  strict JSON decoder, because ``str()`` of them would make different messages collide.
- A message is limited to :data:`~lockstep.readers.base.MAX_RECORD_BYTES`, the limit shared by
  every reader.
"""
from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lockstep.exceptions import BadInputError
from lockstep.readers._util import (REENCODE_HINT, STRICT_JSON, BadRecord, ChunkBuilder,
                                   SkipCounter, bad_input, parse_json_record, read_head,
                                   size_text, with_skips)
from lockstep.readers.base import DEFAULT_CHUNK_ROWS, MAX_RECORD_BYTES, Chunk

__all__ = ["TelegramReader", "JsonMessageStream"]

_BLOCK = 1 << 20
_MAX_VALUE = MAX_RECORD_BYTES
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
    invalid or truncated JSON) raise :class:`BadInputError` with the line. A value that is
    JSON-like but unusable (NaN, 1e400, a lone surrogate) is a
    :class:`~lockstep.readers._util.BadRecord`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._json = STRICT_JSON
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._newlines = 0          # newlines decoded so far (for UTF-8 error lines)
        self._line_pos = 0          # a position in _buf whose line is known ...
        self._line_no = 1           # ... and that line
        #: True once a ``"messages": [`` array was found (possibly empty).
        self.saw_messages = False

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
                value, end = parse_json_record(self._buf, self._pos, self._json)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos < _MAX_VALUE and self._fill(fh):
                    continue
                if not self._eof:
                    raise self._error(self._pos, f"invalid JSON, or a value longer than "
                                      f"{size_text(_MAX_VALUE)} (the limit for one record): "
                                      f"{exc.msg}") from None
                what = "truncated JSON" if self._eof and ("Unterminated" in exc.msg or
                                                          exc.pos >= len(self._buf) - 1) \
                    else "invalid JSON"
                raise self._error(exc.pos, f"{what}: {exc.msg}") from None
            if isinstance(value, BadRecord) and end >= len(self._buf) and \
                    len(self._buf) - self._pos < _MAX_VALUE and self._fill(fh):
                continue  # a value cut by the block end looks deep or bad: read on
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
                    self.saw_messages = True
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
    if isinstance(value, (bool, float, dict, list, BadRecord)) or value is None:
        return None
    if isinstance(value, int):
        return f"user{value}"
    text = str(value).strip()
    return f"user{text}" if text.isascii() and text.isdigit() else (text or None)


def _id(value: Any) -> str | None:
    """An id as text: a string or a whole number; None for anything else (floats included:
    ``str(1e400)`` is ``inf`` and would make different messages collide)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _shown(value: Any) -> str:
    """A short, printable form of a JSON value for an error message."""
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, BadRecord) else \
        "an unusable value"
    return text if len(text) <= 40 else text[:37] + "..."


def _kind_of(value: Any) -> str:
    if isinstance(value, BadRecord):
        return "an unusable value"
    return {dict: "an object", str: "a string", bool: _shown(value), type(None): "null"}.get(
        type(value), f"the number {_shown(value)}" if isinstance(value, (int, float)) else
        "not a list")


class _Dating:
    """Pick each message's time, and keep to one source for the whole file.

    ``date_unixtime`` is UTC; ``date`` is the exporting PC's local time without a zone, used
    only by exports that never write ``date_unixtime``. A file that mixes the two (or a
    ``date_unixtime`` that is not whole seconds) would shift some messages by the exporter's
    UTC offset, so such messages are errors.
    """

    def __init__(self) -> None:
        self.unix: bool | None = None  # decided by the first message with a time

    def timestamp(self, message: dict[str, Any]) -> tuple[str | None, str | None]:
        """``(timestamp, error)`` of one message."""
        raw = message.get("date_unixtime")
        if raw is not None and raw != "":
            unix = _id(raw)
            if unix is None or not (unix.isascii() and unix.isdigit()):
                return None, (f"date_unixtime {_shown(raw)} is not UNIX seconds (not "
                              "falling back to the zone-less date)")
            if self.unix is False:
                return None, ("this message has date_unixtime but earlier ones only a "
                              "zone-less date: the file mixes exports")
            self.unix = True
            return unix, None
        date = _id(message.get("date"))
        if date is None:
            return None, "message has no date_unixtime or date"
        if self.unix:
            return None, ("message has no date_unixtime while earlier ones have it (its date "
                          "has no time zone)")
        self.unix = False
        return date, None


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
        skipped = SkipCounter()
        return with_skips(self._read(path, platform or "telegram", chunk_rows, skipped),
                          skipped, path)

    def _read(self, path: Path, plat: str, chunk_rows: int, skipped: SkipCounter
              ) -> Iterator[Chunk]:
        events = ChunkBuilder("events", str(path), chunk_rows, EVENT_EXTENSIONS)
        chat: dict[str, Any] = {}
        senders: dict[str, dict[str, Any]] = {}
        pending: list[tuple[int, Any]] = []
        dating = _Dating()
        stream = JsonMessageStream(path)
        for what, line, value in stream.items():
            if what == "key":
                key, found = value
                if key == "messages":
                    raise bad_input(path, line, f"messages is {_kind_of(found)}, not a list of "
                                    "messages: not a Telegram chat export")
                if isinstance(found, BadRecord):
                    raise bad_input(path, line, f"{key}: {found.reason}")
                if key == "id" and _id(found) is None and found is not None:
                    raise bad_input(path, line, f"the chat id {_shown(found)} is not an id "
                                    "(a string or a whole number)")
                chat[key] = found
                continue
            if "id" not in chat:
                pending.append((line, value))  # messages before the chat id: rare, kept
                continue
            for row in self._rows(pending + [(line, value)], chat, plat, senders, skipped,
                                  dating):
                chunk = events.add(row)
                if chunk:
                    yield chunk
            pending = []
        if not stream.saw_messages:
            raise bad_input(path, None, "no messages list: not a Telegram chat export "
                            "(expected {\"name\", \"type\", \"id\", \"messages\": [...]})")
        for row in self._rows(pending, chat, plat, senders, skipped, dating):
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
              senders: dict[str, dict[str, Any]], skipped: SkipCounter, dating: _Dating
              ) -> Iterator[dict[str, Any]]:
        chat_key, _ = self._chat_key(chat)
        for line, message in messages:
            if isinstance(message, BadRecord):
                yield {"platform": plat, "_line": line, "_error": message.reason}
                continue
            if not isinstance(message, dict):
                yield {"platform": plat, "_line": line, "_error": "message is not a JSON object"}
                continue
            kind = message.get("type", "message")
            if kind != "message":
                if kind == "service":
                    skipped.add("service message", line)  # joins, pins, title changes ...
                    continue
                yield {"platform": plat, "_line": line,
                       "_error": f"message type {_shown(kind)} is not message or service"}
                continue
            yield self._message(message, line, chat_key, plat, senders, dating)

    @staticmethod
    def _message(message: dict[str, Any], line: int, chat_key: str | None, plat: str,
                 senders: dict[str, dict[str, Any]], dating: _Dating) -> dict[str, Any]:
        errors = []
        message_id = _id(message.get("id"))
        if message_id is None:
            given = message.get("id")
            errors.append("message has no id" if given is None or given == "" else
                          f"message id {_shown(given)} is not an id (a string or a whole "
                          "number)")
        if chat_key is None:
            errors.append("the export has no chat id")

        def ref(key: str, convert: Any) -> str | None:
            # an id field given but unusable is an error: dropping it would turn a reply
            # into a post or give the message to the chat
            value = message.get(key)
            out = convert(value)
            if out is None and value is not None and not (isinstance(value, str)
                                                          and not value.strip()):
                errors.append(f"{key} {_shown(value)} is not an id")
            return out  # type: ignore[no-any-return]

        account = ref("from_id", _peer) or chat_key
        if account and account not in senders and message.get("from_id") is not None:
            prefix = re.match(r"[a-z]*", account).group(0)
            senders[account] = {"platform": plat, "account_id": account,
                                "kind": _PEER_KINDS.get(prefix, "user"),
                                "display_name": _id(message.get("from")), "_line": line}
        timestamp, time_error = dating.timestamp(message)
        if time_error:
            errors.append(time_error)
        forwarded = ref("forwarded_from_id", _peer)
        forwarded_message = ref("forwarded_message_id", _id)
        if forwarded and forwarded_message:
            forwarded = f"{forwarded}:{forwarded_message}"
        reply = ref("reply_to_message_id", _id)
        reply_chat = ref("reply_to_peer_id", _peer) or chat_key
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
