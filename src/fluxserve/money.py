"""Exact money: integer micro-dollars in storage, Decimal at the edges."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000


def usd_to_micros(value: Decimal | str | int) -> int:
    """Parse dollars exactly; refuse NaN, infinities and sub-micro precision."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a dollar amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a dollar amount: {value!r}")
    micros = amount * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"more precision than a micro-dollar: {value!r}")
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    """Dollars with at least two decimals and no trailing noise: 30000 -> 0.03, 300 -> 0.0003."""
    usd = Decimal(micros) / MICROS_PER_USD
    quantum = Decimal("0.01") if usd == usd.quantize(Decimal("0.01")) else Decimal("0.000001")
    text = usd.quantize(quantum, rounding=ROUND_HALF_UP).normalize()
    if text == text.to_integral_value() or -text.as_tuple().exponent < 2:  # type: ignore[operator]
        text = text.quantize(Decimal("0.01"))
    return text
