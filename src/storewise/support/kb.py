"""Knowledge base of support answers: read from CSV or Markdown, saved and loaded as JSON.

A knowledge base (KB) is a list of :class:`KBEntry`: an intent, the example questions that
express it, and one answer that may contain placeholders such as ``{{Order Number}}`` which
the assistant fills with the customer's facts.

**CSV** (optionally gzip-compressed, detected from the content): one row per example with
columns ``intent``, ``instruction`` (or ``question``) and ``response`` (or ``answer``);
``category`` is optional. This is the layout of the Bitext customer-support corpus. Rows with
the same intent and the same response are merged into one entry with several examples.

**Markdown**: one ``## intent`` heading per answer, the example questions as the bullet list
right under the heading (it ends at the first line that is not a bullet, e.g. a blank
line), then the answer (any Markdown, lists included) up to the next ``## `` heading; soft line
breaks inside a paragraph or list item are joined. A ``# title`` line and text before the
first ``##`` are ignored::

    ## track_order
    - where is my order?
    - track order 1234

    Your order {{Order Number}} from {{Order Date}} is on its way.

The same intent may appear under several headings (several answers). The KB is saved as one
``kb.json`` file (never pickle) by :meth:`KnowledgeBase.save`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storewise import persist
from storewise.errors import InputError, NotFitted, SchemaError

__all__ = [
    "KB_FILENAME",
    "KBEntry",
    "KnowledgeBase",
    "normalize_intent",
    "read_kb",
    "read_kb_csv",
    "read_kb_markdown",
]

#: File name of a saved knowledge base inside a support folder.
KB_FILENAME = "kb.json"
_FORMAT = "storewise.support.kb"
_VERSION = 1
_MAX_BYTES = 200 * 1024 * 1024
_INTENT_RE = re.compile(r"[^a-z0-9]+")
_QUESTION_COLUMNS = ("instruction", "question", "example")
_ANSWER_COLUMNS = ("response", "answer")


def normalize_intent(name: str) -> str:
    """Canonical intent label: lower case, runs of other characters as one underscore."""
    return _INTENT_RE.sub("_", name.strip().lower()).strip("_")


class KBEntry(BaseModel):
    """One answer of the knowledge base with the example questions that lead to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: str = Field(min_length=1, max_length=200)
    examples: tuple[str, ...] = Field(min_length=1)
    answer: str = Field(min_length=1)
    category: str | None = None


class KnowledgeBase(BaseModel):
    """The answers the assistant can suggest, with where they came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: tuple[KBEntry, ...] = Field(min_length=1)
    source: str | None = None

    @property
    def intents(self) -> list[str]:
        """Sorted distinct intents, the labels the intent model learns."""
        return sorted({e.intent for e in self.entries})

    def examples(self) -> tuple[list[str], list[str]]:
        """All (example question, intent) pairs as two parallel lists, for training."""
        texts: list[str] = []
        labels: list[str] = []
        for entry in self.entries:
            for example in entry.examples:
                texts.append(example)
                labels.append(entry.intent)
        return texts, labels

    def merge(self, *others: KnowledgeBase) -> KnowledgeBase:
        """One KB with the entries of this and ``others`` (e.g. Bitext + the shop's own FAQ)."""
        kbs = (self, *others)
        sources = [kb.source for kb in kbs if kb.source]
        entries = tuple(entry for kb in kbs for entry in kb.entries)
        return KnowledgeBase(entries=entries, source=" + ".join(sources) or None)

    def checksum(self) -> str:
        """SHA-256 of the entries' content, so saved models can tell which KB they fit."""
        digest = hashlib.sha256()
        for entry in self.entries:
            payload = [entry.intent, list(entry.examples), entry.answer, entry.category]
            digest.update(json.dumps(payload, ensure_ascii=False).encode())
        return digest.hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The JSON document :meth:`save` writes."""
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "source": self.source,
            "checksum": self.checksum(),
            "entries": [e.model_dump(mode="json") for e in self.entries],
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``kb.json`` into ``folder`` atomically and return its path."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        path = target / KB_FILENAME
        persist.write_atomic(path, json.dumps(self.to_json(), ensure_ascii=False, indent=1))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> KnowledgeBase:
        """Read the ``kb.json`` that :meth:`save` wrote; NotFitted when there is none."""
        path = Path(folder)
        if path.is_dir():
            path = path / KB_FILENAME
        if not path.is_file():
            raise NotFitted(
                f"no knowledge base loaded in '{path.parent}': run "
                "`storewise support load-kb FILE` with a CSV (intent,instruction,response) "
                "or a Markdown FAQ"
            )
        return read_kb_json(path)


def read_kb(path: str | Path) -> KnowledgeBase:
    """Read a KB from a ``.csv``/``.csv.gz``, ``.md`` or saved ``kb.json`` file.

    Raises InputError naming the file and the problem (missing file, missing column, empty).
    """
    file = Path(path)
    name = file.name.lower()
    if name.endswith((".md", ".markdown")):
        return read_kb_markdown(file)
    if name.endswith(".json"):
        return read_kb_json(file)
    if name.endswith((".csv", ".csv.gz", ".gz", ".tsv")):
        return read_kb_csv(file)
    raise InputError(
        f"{file}: unknown knowledge-base format; use .csv (or .csv.gz), .md or kb.json"
    )


def _read_text(file: Path) -> str:
    if not file.is_file():
        raise InputError(f"{file}: file not found")
    raw = file.read_bytes()
    if len(raw) > _MAX_BYTES:
        raise InputError(f"{file}: file larger than {_MAX_BYTES // (1024 * 1024)} MB")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{file}: corrupt gzip data ({exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text (byte {exc.start})") from exc


def _pick(columns: Sequence[str], choices: Iterable[str]) -> str | None:
    return next((c for c in choices if c in columns), None)


def read_kb_csv(path: str | Path) -> KnowledgeBase:
    """Read a CSV KB (Bitext layout: ``intent,instruction,response``; gzip ok)."""
    file = Path(path)
    text = _read_text(file)
    if not text.strip():
        raise InputError(f"{file}: empty file")
    delimiter = "\t" if file.name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise InputError(f"{file}: no CSV header ({exc})") from exc
    question_col = _pick(header, _QUESTION_COLUMNS)
    answer_col = _pick(header, _ANSWER_COLUMNS)
    missing = [
        label
        for label, col in (
            ("intent", "intent" if "intent" in header else None),
            ("instruction (or question)", question_col),
            ("response (or answer)", answer_col),
        )
        if col is None
    ]
    if missing:
        raise SchemaError(
            f"{file}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
        )
    assert question_col is not None and answer_col is not None
    i_intent, i_q, i_a = (
        header.index("intent"),
        header.index(question_col),
        header.index(answer_col),
    )
    i_cat = header.index("category") if "category" in header else None
    groups: dict[tuple[str, str], tuple[list[str], str | None]] = {}
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) < len(header):
                raise InputError(f"{file}: line {line}: {len(row)} fields, expected {len(header)}")
            intent = normalize_intent(row[i_intent])
            question, answer = row[i_q].strip(), row[i_a].strip()
            for label, value in (
                ("intent", intent),
                (question_col, question),
                (answer_col, answer),
            ):
                if not value:
                    raise InputError(f"{file}: line {line}: empty '{label}'")
            category = row[i_cat].strip() or None if i_cat is not None else None
            examples, _ = groups.setdefault((intent, answer), ([], category))
            examples.append(question)
    except csv.Error as exc:
        raise InputError(f"{file}: line {reader.line_num}: bad CSV ({exc})") from exc
    if not groups:
        raise InputError(f"{file}: no rows after the header")
    entries = [
        KBEntry(intent=intent, examples=tuple(examples), answer=answer, category=category)
        for (intent, answer), (examples, category) in groups.items()
    ]
    return KnowledgeBase(entries=tuple(entries), source=file.name)


_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*\S)\s*$")


def read_kb_markdown(path: str | Path) -> KnowledgeBase:
    """Read a Markdown KB: ``## intent``, a bullet list of examples, then the answer."""
    file = Path(path)
    text = _read_text(file)
    if not text.strip():
        raise InputError(f"{file}: empty file")
    sections: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        heading = _HEADING.match(line)
        if heading:
            sections.append((number, heading.group(1), []))
        elif sections:
            sections[-1][2].append(line)
    if not sections:
        raise InputError(
            f"{file}: no '## intent' sections (see storewise.support.kb for the format)"
        )
    entries = [_markdown_entry(file, number, title, body) for number, title, body in sections]
    return KnowledgeBase(entries=tuple(entries), source=file.name)


def _markdown_entry(file: Path, number: int, title: str, body: list[str]) -> KBEntry:
    intent = normalize_intent(title)
    if not intent:
        raise InputError(f"{file}: line {number}: heading '{title}' is not a usable intent name")
    examples: list[str] = []
    index = 0
    while index < len(body) and not body[index].strip():
        index += 1
    while index < len(body):
        bullet = _BULLET.match(body[index])
        if not bullet:
            break
        examples.append(bullet.group(1))
        index += 1
    answer = _unwrap(body[index:])
    if not examples:
        raise InputError(
            f"{file}: line {number}: section '{title}' has no example questions "
            "(a bullet list right under the heading)"
        )
    if not answer:
        raise InputError(f"{file}: line {number}: section '{title}' has no answer text")
    return KBEntry(intent=intent, examples=tuple(examples), answer=answer)


_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|>|\|)")


def _unwrap(lines: list[str]) -> str:
    """Markdown text with soft line breaks joined, so each paragraph or list item is one line
    (placeholders are filled sentence by sentence; a sentence must not span lines)."""
    out: list[str] = []
    joinable = False
    for line in lines:
        if not line.strip():
            out.append("")
            joinable = False
        elif joinable and not _BLOCK_START.match(line) and not line.startswith("    "):
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line.rstrip())
            joinable = True
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def read_kb_json(path: str | Path) -> KnowledgeBase:
    """Read a ``kb.json`` written by :meth:`KnowledgeBase.save`."""
    file = Path(path)
    try:
        document = json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise InputError(f"{file}: not a storewise knowledge base (format '{_FORMAT}')")
    if document.get("version") != _VERSION:
        raise InputError(f"{file}: unsupported KB version {document.get('version')!r}")
    try:
        kb = KnowledgeBase(entries=document.get("entries") or (), source=document.get("source"))
    except ValidationError as exc:
        raise InputError(f"{file}: invalid knowledge base ({exc.error_count()} errors)") from exc
    if document.get("checksum") not in (None, kb.checksum()):
        raise InputError(f"{file}: checksum mismatch, the file was changed or is corrupt")
    return kb
