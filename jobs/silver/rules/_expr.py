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


def translation(mapping: dict[str, str]) -> tuple[str, str]:
    """``(matching, replace)`` arguments for ``F.translate`` from a char -> char map; '' deletes the char.

    ``F.translate`` maps the i-th matching character to the i-th replace character and deletes the
    matching characters past the end of ``replace``, so mapped characters come first.
    """
    kept = {k: v for k, v in mapping.items() if v}
    dropped = [k for k, v in mapping.items() if not v]
    if any(len(k) != 1 or len(v) != 1 for k, v in kept.items()):
        raise ValueError("translate maps single characters")
    return "".join(kept) + "".join(dropped), "".join(kept.values())
