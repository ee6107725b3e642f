"""Expression helpers shared by the rules."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F


def let(value: Column, body: Callable[[Column], Column]) -> Column:
    """Evaluate ``value`` once and hand it to ``body`` as a lambda variable: ``transform(array(v), body)[0]``.

    Column expressions are trees, so a rule that uses an intermediate value n times copies its whole
    subtree n times, and nested reuse multiplies: the first citizen-ID rule written that way had a plan
    of several MB and generated code past the JVM's 64 KB method limit. Binding through a one-element
    ``transform`` keeps every rule's plan linear in its size. Higher-order functions are evaluated
    interpreted (no whole-stage codegen); measured throughputs are in each rule's docstring. Bind several
    values at once with a struct: ``let(F.struct(a.alias("a"), b.alias("b")), lambda t: t["a"] ...)``.
    """
    return F.transform(F.array(value), body)[0]


def lit(value: object) -> Column:
    """``F.lit`` that unwraps ``StrEnum`` members (so plans show plain strings)."""
    return F.lit(value.value if hasattr(value, "value") else value)
