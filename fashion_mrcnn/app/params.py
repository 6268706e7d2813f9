"""What a request to the app may say, and how the app refuses one: the query-parameter readers
and :class:`BadRequest` (status + the message the page shows), shared by the endpoints of
``server`` and ``shop_api``."""

from __future__ import annotations


class BadRequest(Exception):
    """A request the app refuses, with the HTTP status and the message the page shows."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def flag(request, key: str, default: bool = True) -> bool:
    """``?key=`` as a switch: 0 / false / no / off turn it off."""
    value = request.query_params.get(key)
    return default if value is None else value.lower() not in ("0", "false", "no", "off")


def number(request, key: str, default: float, lo: float, hi: float) -> float:
    """``?key=`` as a number in [lo, hi]; BadRequest(400) naming the parameter otherwise."""
    text = request.query_params.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(400, f"{key}={text!r} is not a number") from None
    if not lo <= value <= hi:
        raise BadRequest(400, f"{key}={value} is outside [{lo}, {hi}]")
    return value
