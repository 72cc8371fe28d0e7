"""One role mapper for every input kind, with the common names in rfm/presets/columns.yaml."""

from __future__ import annotations

import pytest

from rfm.inputs import aliases, map_roles, norm


def test_every_kind_reads_its_roles_from_the_one_alias_file():
    assert list(aliases("orders").roles)[:4] == ["customer_id", "order_id", "order_date", "amount"]
    assert aliases("orders").required == ["customer_id", "order_id", "order_date", "amount"]
    assert aliases("events").required == ["lead_id", "event_type", "timestamp"]
    assert aliases("outcomes").required == ["lead_id", "converted"]
    assert "occurred_at" in aliases("events").roles["timestamp"]
    assert "InvoiceNo".lower() in [a.replace("_", "") for a in aliases("orders").roles["order_id"]]


def test_names_match_ignoring_case_spaces_underscores_and_hyphens():
    assert norm(" Customer-ID ") == norm("customer_id") == "customerid"
    roles = map_roles("orders", ["Customer ID", "InvoiceNo", "Invoice Date", "Sales", "Qty"], {})
    assert roles.mapping == {
        "customer_id": "Customer ID", "order_id": "InvoiceNo", "order_date": "Invoice Date", "amount": "Sales",
        "category": None, "status": None, "quantity": "Qty",
    }
    assert roles.detected == ("customer_id", "order_id", "order_date", "amount", "quantity")
    assert roles.unknown == ()


def test_configured_columns_win_and_unknown_ones_are_reported_not_guessed():
    roles = map_roles("orders", ["cust", "amount", "total"], {"customer_id": "cust", "amount": "total", "order_id": "ord"})
    assert roles.mapping["customer_id"] == "cust" and roles.mapping["amount"] == "total"
    assert roles.unknown == (("order_id", "ord"),)
    assert "customer_id" not in roles.detected


def test_a_column_an_earlier_role_took_is_passed_over_for_the_next_common_name():
    # customer_id is mapped to a column named "order": order_id then skips it and takes "order_number".
    roles = map_roles("orders", ["order", "order_number", "date", "amount"], {"customer_id": "order"})
    assert roles.mapping["customer_id"] == "order" and roles.mapping["order_id"] == "order_number"
    # with nothing else to take, the role stays unmapped (and the reader says it is missing)
    roles = map_roles("orders", ["order", "date", "amount"], {"customer_id": "order"})
    assert roles.mapping["order_id"] is None and roles.missing(aliases("orders").required) == ["order_id"]


@pytest.mark.parametrize("kind", ["orders", "leads", "events", "outcomes"])
def test_the_first_column_of_a_spelling_wins(kind):
    role, names = next(iter(aliases(kind).roles.items()))
    spelled = [names[0].upper(), names[0]]
    assert map_roles(kind, spelled, {}).mapping[role] == spelled[0]
