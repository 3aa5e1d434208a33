"""The queue's SQL: each rule written once, both paths built from it (issue 12, item 2).

PostgreSQL's one statement used to be SQL text with ``/*marker*/`` substitution beside the
general path's SQLAlchemy expressions, so "eligible item", gold choice and the pre-label and
progress subqueries were each written twice. Now the one statement is composed from the same
expressions; these tests fail if either path stops using them.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import bindparam, literal, select
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.sql.expression import ClauseElement

from truthset.store.models import Item
from truthset.store.queue import at_once
from truthset.store.queue import statements as sql


def _pg(stmt: ClauseElement) -> str:
    dialect = PGDialect(paramstyle="named")  # type: ignore[no-untyped-call]  # SQLAlchemy leaves its __init__ unannotated
    return re.sub(r"\s+", " ", str(stmt.compile(dialect=dialect)))


def _body(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _where(stmt: ClauseElement) -> str:
    """The conditions of a rendered statement (between WHERE and ORDER BY)."""
    rendered = _pg(stmt)
    return rendered[rendered.index("WHERE ") + 6 : rendered.index(" ORDER BY")]


def _prelabel_rule(item: str) -> str:
    return _where(sql.prelabel(Item.id)).replace("items.id", item) + " ORDER BY annotations.id DESC LIMIT 1"


@pytest.mark.parametrize("order", ["random", "sequential"])
@pytest.mark.parametrize("answer", [False, True])
@pytest.mark.parametrize("gold", [False, True])
def test_the_one_statement_is_built_from_the_shared_parts(order: str, answer: bool, gold: bool) -> None:
    one = _body(at_once.statement(order, answer, gold).text)
    # the eligibility rule, the gold choice, the pre-label and the progress count, as the general
    # path's statements render them
    assert _where(sql.eligible(order, lock=True)) in one
    assert "FOR NO KEY UPDATE OF cand SKIP LOCKED" in one
    assert _prelabel_rule("task.item_id") in one
    if gold:
        assert _where(sql.gold_candidates()) in one
    if answer:
        assert "INSERT INTO annotations" in one and "1 + (SELECT count(*)" in one


def test_the_general_path_uses_the_same_rule() -> None:
    assert _where(sql.eligible("random", lock=True)) in _pg(sql.claim("random", True, False))
    assert _prelabel_rule("assignments.item_id") in _pg(sql.TASK)


def test_a_value_baked_into_a_statement_is_refused() -> None:
    """Text keeps named parameters only: a literal value would silently vanish from it."""
    with pytest.raises(RuntimeError, match="not named parameters"):
        sql.as_postgres_text(select(Item.id).where(Item.id == literal(5)))
    text = sql.as_postgres_text(select(Item.id).where(Item.id == sql.p("b_item")))
    assert ":b_item" in text.text and isinstance(text._bindparams["b_item"], type(bindparam("x")))
