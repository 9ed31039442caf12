"""The ingest service carries the settings' ceilings to files and API records alike."""

from __future__ import annotations

from pathlib import Path

from storewise.app import Settings, build


def test_ceilings_from_settings_reach_records_and_files(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", ingest_max_quantity=50.0, ingest_max_price=20.0)
    row = {"customer_id": "c1", "item_id": "I1", "event_type": "purchase",
           "timestamp": "2024-05-01T10:00:00Z"}  # fmt: skip
    with build(settings) as services:
        report = services.ingest.records(
            "events",
            [{**row, "quantity": 60, "price": 1.0}, {**row, "quantity": 2, "price": 25.0},
             {**row, "quantity": 2, "price": 3.0, "event_id": "fine"}],
        )  # fmt: skip
        assert report.stored == 1
        assert [r["index"] for r in report.rejected] == [0, 1]
        orders = tmp_path / "orders.csv"
        orders.write_text(
            "order_id,customer_id,item_id,quantity,price,timestamp\n"
            "o1,c2,I2,60,1.0,2024-05-02T10:00:00Z\n"
            "o2,c2,I3,1,1.0,2024-05-02T10:00:00Z\n"
        )
        filed = services.ingest.files("orders", [orders])
        assert filed.stored == 1 and filed.rejected_total == 1
