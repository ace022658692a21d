"""Measurement specs as screening-spec.md describes them (for tests of bot.engine.answers).

The engine builds these from flow data; the tests build them here, from the spec's
"Facts the flow must ask for" table and its plausible ranges.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bot.engine.answers import MeasureSpec, bare_rule


def _spec(
    quantity: str,
    units: tuple[str, ...],
    bare: tuple[Mapping[str, object], ...],
    ask: tuple[str, ...],
    plausible: tuple[str, str],
    *,
    whole: bool = False,
) -> MeasureSpec:
    return MeasureSpec(
        quantity=quantity,
        units=units,
        bare=tuple(bare_rule(rule) for rule in bare),
        ask=ask,
        plausible_min=Decimal(plausible[0]),
        plausible_max=Decimal(plausible[1]),
        whole=whole,
    )


def make_specs() -> dict[str, MeasureSpec]:
    """One MeasureSpec per quantity, keyed by quantity id."""
    return {
        "age": _spec("age", ("years",), ({"unit": "years"},), (), ("1", "120"), whole=True),
        "hba1c": _spec(
            "hba1c",
            ("percent", "mmol_mol"),
            ({"lt": "20", "unit": "percent"}, {"gt": "25", "unit": "mmol_mol"}),
            ("percent", "mmol_mol"),
            ("3", "20"),
        ),
        "c_peptide": _spec(
            "c_peptide",
            ("nmol_l", "pmol_l", "ng_ml", "ug_l"),
            ({"ge": "5", "unit": "pmol_l"},),
            ("nmol_l", "ng_ml", "pmol_l"),
            ("0", "10"),
        ),
        "height": _spec(
            "height",
            ("cm", "m", "ft", "in"),
            ({"ge": "1.0", "le": "2.5", "unit": "m"}, {"ge": "100", "le": "250", "unit": "cm"}),
            ("cm", "m"),
            ("100", "250"),
        ),
        "weight": _spec("weight", ("kg", "jin", "lb"), (), ("kg", "jin", "lb"), ("20", "300")),
        "hemoglobin": _spec(
            "hemoglobin",
            ("g_dl", "g_l", "mmol_l"),
            ({"ge": "30", "unit": "g_l"}, {"ge": "3", "le": "25", "unit": "g_dl"}),
            ("g_dl", "g_l", "mmol_l"),
            ("2", "25"),
        ),
    }


SPECS = make_specs()
