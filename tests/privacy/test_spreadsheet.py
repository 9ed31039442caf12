"""No CSV cell storewise writes for people starts a spreadsheet formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from storewise.ingest.pipeline import RejectWriter
from storewise.marketing.campaigns import write_audience
from storewise.privacy.spreadsheet import FORMULA_STARTS, csv_writer, safe_cell

SRC = Path(__file__).resolve().parents[2] / "src" / "storewise"
ATTACKS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _runs_a_formula(cell: str) -> bool:
    """A cell starting like a formula that is not simply a number (which a sheet reads as one)."""
    if not cell.startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


@given(st.text(min_size=1))
def test_no_text_cell_starts_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert not _runs_a_formula(cell)
    assert cell in (text, "'" + text)  # nothing else is changed


def test_numbers_are_left_alone() -> None:
    assert safe_cell(-97.15) == -97.15 and safe_cell(-3) == -3 and safe_cell(None) is None


def test_audience_rows_with_hostile_titles_and_ids() -> None:
    rows = [
        {"customer_id": attack, "email": "a@b.c", "segment": "Lost", "clv": -1.5,
         "item_1_id": attack, "item_1_title": attack, "reasons": attack}
        for attack in ATTACKS
    ]  # fmt: skip
    out = io.StringIO()
    write_audience(rows, out, n_items=1)
    cells = _cells(out.getvalue())
    assert cells and not [c for c in cells if _runs_a_formula(c)]
    assert "-1.5" in cells  # a number stays a number


def test_rejected_import_rows_are_neutralised(tmp_path: Path) -> None:
    target = tmp_path / "rejected.csv"
    writer = RejectWriter(target)
    writer.write("orders.csv", [(2, "bad price", attack) for attack in ATTACKS])
    writer.commit()
    cells = _cells(target.read_text())
    assert len(cells) == 4 * (1 + len(ATTACKS))
    assert not [c for c in cells if _runs_a_formula(c)]


def test_every_csv_writer_in_the_package_is_the_safe_one() -> None:
    raw = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"csv\.(writer|DictWriter)\(", line) and path.name != "spreadsheet.py"
    ]
    assert raw == []


def test_safe_writer_keeps_csv_quoting() -> None:
    out = io.StringIO()
    csv_writer(out).writerow(["a,b", '=1,"2"', 3])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["a,b", '\'=1,"2"', "3"]
