"""Tests for bot.services.probability: parsing a percent forecast and its reason."""

from __future__ import annotations

import pytest

from bot.services.probability import (
    MAX_REASON_CHARS,
    ParsedForecast,
    ProbabilityError,
    parse_forecast,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70", ParsedForecast(70, None, "")),
        ("70%", ParsedForecast(70, None, "")),
        ("70 %", ParsedForecast(70, None, "")),
        ("  70  ", ParsedForecast(70, None, "")),
        ("+70", ParsedForecast(70, None, "")),
        ("1", ParsedForecast(1, None, "")),
        ("99", ParsedForecast(99, None, "")),
        (
            "70 % they have the universities",
            ParsedForecast(70, None, "they have the universities"),
        ),
        ("70,5", ParsedForecast(71, "70,5", "")),  # half up
        ("70.5", ParsedForecast(71, "70.5", "")),
        ("70,4", ParsedForecast(70, "70,4", "")),
        ("70.0", ParsedForecast(70, "70.0", "")),  # a decimal part is always reported
        ("99,4", ParsedForecast(99, "99,4", "")),
        ("0,6 %", ParsedForecast(1, "0,6", "")),  # with a percent sign: 0.6 % rounds to 1
        ("0.5%", ParsedForecast(1, "0.5", "")),
        ("70\u00a0%\u00a0ok", ParsedForecast(70, None, "ok")),  # non-breaking spaces
        ("70\u202f% ok", ParsedForecast(70, None, "ok")),  # narrow no-break space
        ("70％", ParsedForecast(70, None, "")),  # full-width percent sign
        ("７０％ да", ParsedForecast(70, None, "да")),  # full-width digits
        ("70, because of Tsinghua", ParsedForecast(70, None, "because of Tsinghua")),
        ("70 — потому что Цинхуа", ParsedForecast(70, None, "потому что Цинхуа")),
        ("70 процентов, так", ParsedForecast(70, None, "так")),
        ("70 percent. Talent", ParsedForecast(70, None, "Talent")),
        ("70 % they have 2 universities", ParsedForecast(70, None, "they have 2 universities")),
        ("70%\nline two", ParsedForecast(70, None, "line two")),
    ],
)
def test_command_form(text: str, expected: ParsedForecast) -> None:
    assert parse_forecast(text, require_leading=True) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("\u00a0\n", "missing"),
        ("0", "out_of_range"),
        ("100", "out_of_range"),
        ("150", "out_of_range"),
        ("-5", "out_of_range"),
        ("−5", "out_of_range"),  # U+2212 minus sign
        ("99.6", "out_of_range"),  # rounds to 100
        ("99,5", "out_of_range"),
        ("0,4 %", "out_of_range"),  # rounds to 0
        ("0.0", "out_of_range"),
        ("12345678901234567890", "out_of_range"),
        ("seventy", "not_a_number"),
        ("скорее да", "not_a_number"),
        ("about 70", "not_a_number"),  # commands must start with the number
        ("70th", "not_a_number"),
        ("1e5", "not_a_number"),
        ("0.7", "ambiguous"),  # a fraction of 1 or 0.7 %?
        ("0,6", "ambiguous"),
        ("1.0", "ambiguous"),
        ("60 or 70", "ambiguous"),
        ("60 или 70", "ambiguous"),
        ("60-70", "ambiguous"),
        ("60 – 70 %", "ambiguous"),
        ("60% or 70%", "ambiguous"),
        ("60/70", "ambiguous"),
    ],
)
def test_command_form_errors(text: str, code: str) -> None:
    with pytest.raises(ProbabilityError) as caught:
        parse_forecast(text, require_leading=True)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("думаю, процентов 60", ParsedForecast(60, None, "думаю")),
        ("70% because of Tsinghua", ParsedForecast(70, None, "because of Tsinghua")),
        ("I think 60%, because X", ParsedForecast(60, None, "I think, because X")),
        ("I think (70%) because top 20", ParsedForecast(70, None, "I think because top 20")),
        ("процентов на 60, не больше", ParsedForecast(60, None, "не больше")),
        ("уверен на 60 процентов", ParsedForecast(60, None, "уверен на")),
        ("top20 and 70 percent", ParsedForecast(70, None, "top20 and")),
        ("maybe 70,5 % really", ParsedForecast(71, "70,5", "maybe really")),
        ("60% — and I repeat: 60%", ParsedForecast(60, None, "and I repeat: 60%")),
        ("Tsinghua, Peking: 65 ％", ParsedForecast(65, None, "Tsinghua, Peking")),
    ],
)
def test_comment_form(text: str, expected: ParsedForecast) -> None:
    assert parse_forecast(text, require_leading=False) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ("скорее да", "not_a_number"),
        ("seventy", "not_a_number"),
        ("I'd say 70", "not_a_number"),  # bare numbers in comments are not forecasts
        ("70", "not_a_number"),
        ("top 20 universities", "not_a_number"),
        ("I'd say 0.7", "ambiguous"),
        ("60 or 70 %", "ambiguous"),
        ("from 60 to 70 percent", "ambiguous"),
        ("60% now, was 40% before", "ambiguous"),
        ("процентов 60-70", "ambiguous"),
        ("maybe 150%", "out_of_range"),
        ("0 %", "out_of_range"),
    ],
)
def test_comment_form_errors(text: str, code: str) -> None:
    with pytest.raises(ProbabilityError) as caught:
        parse_forecast(text, require_leading=False)
    assert caught.value.code == code


def test_reason_of_exactly_max_length_is_kept() -> None:
    reason = "я" * MAX_REASON_CHARS
    assert parse_forecast(f"70 {reason}", require_leading=True) == ParsedForecast(70, None, reason)


def test_reason_one_char_too_long() -> None:
    reason = "x" * (MAX_REASON_CHARS + 1)
    assert len(reason) == 1001
    with pytest.raises(ProbabilityError) as caught:
        parse_forecast(f"70 % {reason}", require_leading=True)
    assert caught.value.code == "too_long"
    with pytest.raises(ProbabilityError) as caught:
        parse_forecast(f"{reason} 70 %", require_leading=False)
    assert caught.value.code == "too_long"


def test_error_is_a_value_error_with_message() -> None:
    with pytest.raises(ValueError, match=r"not within 1\.\.99"):
        parse_forecast("150", require_leading=True)


def test_reason_around_the_number_keeps_one_comma() -> None:
    parsed = parse_forecast("думаю, процентов 60, потому что Цинхуа", require_leading=False)
    assert parsed.probability == 60 and parsed.reason == "думаю, потому что Цинхуа"
