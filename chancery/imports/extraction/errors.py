"""The single exception raised when a file cannot be turned into a letter."""

from __future__ import annotations

from typing import Literal, get_args

from .messages import render

ErrorCode = Literal[
    "empty",
    "too_large",
    "binary",
    "unsupported_format",
    "zip_bomb",
    "corrupt",
    "no_header",
    "no_text_layer",
    "tool_missing",
]
ERROR_CODES: tuple[str, ...] = get_args(ErrorCode)


class ExtractionError(Exception):
    """`code` is stable (for programs); `messages` are for people, by language (fr, en, es, ar).

    `detail` is an untranslated technical hint (e.g. which limit was hit), never needed to act.
    """

    def __init__(self, code: ErrorCode, detail: str = "", **params: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown extraction error code: {code}")
        self.code: ErrorCode = code
        self.detail = detail
        self.messages: dict[str, str] = render(f"error.{code}", **params)
        super().__init__(self.message_en + (f" ({detail})" if detail else ""))

    @property
    def message_fr(self) -> str:
        return self.messages["fr"]

    @property
    def message_en(self) -> str:
        return self.messages["en"]

    def message(self, language: str = "fr") -> str:
        return self.messages.get(language, self.messages["en"])

    def __repr__(self) -> str:
        return f"ExtractionError({self.code!r}, {self.detail!r})"
