"""Readers: encodings, delimiters, gzip, Parquet, JSON lines, malformed lines, empty files."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from storewise.errors import InputError, NotFound
from storewise.ingest.sources import Source, detect_delimiter, detect_encoding


def rows_of(source: Source) -> tuple[pl.DataFrame, list[int], list[tuple[int, str]]]:
    frames, lines, bad = [], [], []
    for chunk in source.chunks():
        frames.append(chunk.frame)
        lines.extend(chunk.lines.tolist())
        bad.extend((b.line, b.reason) for b in chunk.bad)
    frame = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema=dict.fromkeys(source.columns(), pl.Utf8))
    )
    return frame, lines, bad


def test_latin1_semicolon_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id;title\n1;Café crème\n2;Größe\n".encode("latin-1"))
    source = Source(path)
    assert source.delimiter == ";"
    assert source.encoding not in ("utf-8", "utf-8-sig")
    frame, lines, _ = rows_of(source)
    assert frame["title"].to_list() == ["Café crème", "Größe"]
    assert lines == [2, 3]


def test_gzip_and_wrong_field_counts_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    text = "a,b,c\n1,2,3\n4,5\n6,7,8\n9,9,9,9\n10,11,12\n"
    path.write_bytes(gzip.compress(text.encode()))
    frame, lines, bad = rows_of(Source(path))
    assert frame["a"].to_list() == ["1", "6", "10"]
    assert lines == [2, 4, 6]
    assert [b[0] for b in bad] == [3, 5]
    assert "wrong field count" in bad[0][1]


def test_small_chunks_cover_every_row(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(5000)))
    frame, lines, _ = rows_of(Source(path, chunk_rows=1000))
    assert frame.height == 5000
    assert lines == list(range(2, 5002))


def test_line_breaks_inside_quoted_values_keep_line_numbers(tmp_path: Path) -> None:
    """A quoted value may span lines (Shopify's order notes do): the rows after it, good or
    bad, are numbered by the file's lines."""
    path = tmp_path / "notes.csv"
    path.write_text('a,b,c\n1,"x\ny\nz",3\n4,5\n6,7,8\n9,"q\nr",1,2\n10,11,12\n')
    frame, lines, bad = rows_of(Source(path))
    assert frame["b"].to_list() == ["x\ny\nz", "7", "11"]
    assert lines == [2, 6, 9]
    assert [line for line, _ in bad] == [5, 7]


def test_multi_line_values_larger_than_a_block(tmp_path: Path) -> None:
    """Values with line breaks do not throw the reader out of step at a block's end."""
    path = tmp_path / "notes.csv"
    rows = "".join(f'{i},"note {i}\nsecond line {"x" * 50}",{i}\n' for i in range(5000))
    path.write_text("a,b,c\n" + rows)
    frame, lines, bad = rows_of(Source(path, chunk_rows=10))
    assert frame.height == 5000 and not bad
    assert lines == list(range(2, 10002, 2))


def test_jsonl_reports_invalid_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1, "b": {"k": 2}}\nnot json\n\n[1, 2]\n{"a": 3}\n')
    frame, lines, bad = rows_of(Source(path))
    assert frame["a"].to_list() == ["1", "3"]
    assert frame["b"].to_list() == ['{"k": 2}', None]
    assert lines == [1, 5]
    assert [b[0] for b in bad] == [2, 4]


def test_parquet_rows_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"customer_id": ["a", "b"], "qty": [1, 2]}).write_parquet(path)
    source = Source(path)
    assert source.columns() == ["customer_id", "qty"]
    frame, lines, _ = rows_of(source)
    assert frame.height == 2 and lines == [1, 2]


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        Source(empty)
    with pytest.raises(NotFound, match="no such file"):
        Source(tmp_path / "absent.csv")


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("customer_id,item_id,timestamp\n")
    frame, _, bad = rows_of(Source(path))
    assert frame.height == 0 and bad == []


def test_detectors() -> None:
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfbom") == "utf-8-sig"
    assert detect_delimiter("a\tb\tc\n1\t2\t3\n") == "\t"
    assert detect_delimiter("a|b\n1|2\n") == "|"
