"""The PreprocessingAgent's cleaning and its alpaca and chatml templates."""

from __future__ import annotations

from embodied_ai.experts.prompts import chat_prompt
from embodied_ai.pipelines.templates import ALPACA_WITH_INPUT, as_text, clean_text, render


def test_clean_text_keeps_indentation_and_removes_noise() -> None:
    assert clean_text("\ufeff  Hello \x00 wor\u200bld\t \r\n\r\n\r\n\r\ndef f():\n    return  1   \n") == \
        "Hello world\n\ndef f():\n    return 1"
    assert clean_text("Cafe\u0301") == "Café"          # NFC
    assert clean_text(" \x07 ") == ""


def test_cells_as_text() -> None:
    assert [as_text(v) for v in (None, True, 3, 2.5, "x")] == ["", "true", "3", "2.5", "x"]


def test_alpaca_and_chatml_rows() -> None:
    fields = {"instruction": "Translate", "input": "cat", "output": "chat"}
    alpaca = render("alpaca", fields)
    assert alpaca["prompt"] == ALPACA_WITH_INPUT.format(instruction="Translate", input="cat")
    assert (alpaca["completion"], alpaca["text"]) == ("chat", alpaca["prompt"] + "chat")
    chatml = render("chatml", {"instruction": "Hi", "output": "Hello"})
    assert chatml == {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                      "text": chat_prompt("Hi") + "Hello<|im_end|>"}
