from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from storewise.errors import InputError, NotFitted, SchemaError
from storewise.support import KnowledgeBase, read_kb
from storewise.support.kb import KB_FILENAME, normalize_intent

CSV = (
    "intent,instruction,response,category\n"
    'track_order,where is my order,"Your order {{Order Number}} is on its way.",ORDER\n'
    'track_order,track my parcel,"Your order {{Order Number}} is on its way.",ORDER\n'
    "get_refund,I want my money back,We refund {{Refund Amount}}.,REFUND\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_sections_examples_and_answers(tiny_kb: KnowledgeBase) -> None:
    assert tiny_kb.intents == sorted(
        [
            "track_order",
            "return_item",
            "cancel_order",
            "complaint",
            "contact_human_agent",
            "newsletter_subscription",
            "check_payment_methods",
        ]
    )
    track = next(e for e in tiny_kb.entries if e.intent == "track_order")
    assert track.examples[0] == "where is my order?"
    assert len(track.examples) == 7
    assert track.answer.startswith("Hi {{Customer Name}}")
    cancel = next(e for e in tiny_kb.entries if e.intent == "cancel_order")
    assert "1. Go to {{My Orders}}." in cancel.answer  # lists inside the answer are kept
    texts, labels = tiny_kb.examples()
    assert len(texts) == len(labels) == sum(len(e.examples) for e in tiny_kb.entries)


def test_markdown_heading_is_normalized_and_repeatable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "faq.md",
        "## Track Order\n- where is it\n\nOn its way.\n\n## track order\n- status\n\nShipped.\n",
    )
    kb = read_kb(path)
    assert [e.intent for e in kb.entries] == ["track_order", "track_order"]
    assert [e.answer for e in kb.entries] == ["On its way.", "Shipped."]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("just prose\n", "no '## intent' sections"),
        ("## track_order\n\nAn answer without examples.\n", "no example questions"),
        ("## track_order\n- where is it\n\n", "no answer text"),
        ("   \n", "empty file"),
    ],
)
def test_bad_markdown_names_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "bad.md", text)
    with pytest.raises(InputError, match=problem) as info:
        read_kb(path)
    assert "bad.md" in info.value.message


def test_csv_merges_rows_with_same_answer(tmp_path: Path) -> None:
    kb = read_kb(write(tmp_path, "kb.csv", CSV))
    assert len(kb.entries) == 2
    track = kb.entries[0]
    assert track.examples == ("where is my order", "track my parcel")
    assert track.category == "ORDER"
    assert kb.source == "kb.csv"


def test_csv_gzip_and_column_aliases(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv.gz"
    path.write_bytes(gzip.compress(b"Intent,Question,Answer\nTrack Order,where?,Shipped.\n"))
    kb = read_kb(path)
    assert kb.entries[0].intent == "track_order"
    assert kb.entries[0].examples == ("where?",)


def test_csv_missing_column_is_schema_error(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.csv", "intent,instruction\nx,y\n")
    with pytest.raises(SchemaError, match=r"kb\.csv: missing column\(s\) response"):
        read_kb(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty file"),
        ("intent,instruction,response\n", "no rows after the header"),
        ("intent,instruction,response\nx,hello,\n", "line 2: empty 'response'"),
        ("intent,instruction,response\nx,hello\n", "line 2: 2 fields"),
    ],
)
def test_bad_csv_names_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as info:
        read_kb(write(tmp_path, "kb.csv", text))
    assert "kb.csv" in info.value.message


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown knowledge-base format"):
        read_kb(write(tmp_path, "kb.xlsx", "x"))
    with pytest.raises(InputError, match="file not found"):
        read_kb(tmp_path / "nope.csv")


def test_save_load_roundtrip_is_json(tmp_path: Path, tiny_kb: KnowledgeBase) -> None:
    path = tiny_kb.save(tmp_path / "support")
    assert path.name == KB_FILENAME
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "storewise.support.kb"
    loaded = KnowledgeBase.load(tmp_path / "support")
    assert loaded == tiny_kb
    assert loaded.checksum() == tiny_kb.checksum()
    assert read_kb(path) == tiny_kb  # a saved kb.json is also a valid KB file


def test_tampered_json_is_rejected(tmp_path: Path, tiny_kb: KnowledgeBase) -> None:
    path = tiny_kb.save(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["entries"][0]["answer"] = "Changed."
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError, match="checksum mismatch"):
        KnowledgeBase.load(tmp_path)


def test_load_without_kb_says_how_to_load_one(tmp_path: Path) -> None:
    with pytest.raises(NotFitted, match="storewise support load-kb FILE"):
        KnowledgeBase.load(tmp_path)


def test_normalize_intent() -> None:
    assert normalize_intent("  Where is my Order? ") == "where_is_my_order"


@pytest.mark.dataset
def test_bitext_corpus_reads(bitext_kb: KnowledgeBase) -> None:
    assert len(bitext_kb.intents) == 27
    texts, _ = bitext_kb.examples()
    assert len(texts) == 4514
    assert "track_order" in bitext_kb.intents
