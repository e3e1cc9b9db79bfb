"""Filtered, counted pages of rows, as the list endpoints return them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["page", "where_given"]

T = TypeVar("T")


def where_given(statement: Select[T], equal: Mapping[Any, object]) -> Select[T]:
    """`statement` narrowed to rows whose column equals the value, for each value given
    (None: that filter was not asked for)."""
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(column == value)
    return statement


async def page(
    db: AsyncSession,
    statement: Select[T],
    order: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[int, list[T]]:
    """(how many rows match in all, the rows of this page in `order`)."""
    total = (await db.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = await db.execute(statement.order_by(*order).limit(limit).offset(offset))
    return total, list(rows.scalars())
