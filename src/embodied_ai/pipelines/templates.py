"""Prompt templates of the PreprocessingAgent: ``alpaca`` and ``chatml``, and text cleaning.

A template has fields (``instruction``, ``input``, ``output``; ``chatml`` also ``system``) that
``template_mapping`` maps to dataset columns. Each renders one row that the experts' training loader
(`embodied_ai.experts.datasets.load_dataset`) reads, plus ``text``, the whole rendered example:

- alpaca: ``{"prompt", "completion", "text"}``, the prompt in Stanford Alpaca's wording;
- chatml: ``{"messages", "text"}``, the text in the ChatML every expert is served with
  (`embodied_ai.experts.prompts`), so training and serving see the same format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

from embodied_ai.experts.prompts import END_OF_TURN, chat_prompt

TemplateName = Literal["alpaca", "chatml"]

# Every field of each template, and those a row needs.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "alpaca": ("instruction", "input", "output"),
    "chatml": ("system", "instruction", "input", "output"),
}
REQUIRED_FIELDS = ("instruction", "output")

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_WITHOUT_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)

# C0/C1 control characters other than tab and newline, and invisible marks that only get in the way.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_INNER_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC, newlines as ``\\n``, control characters gone, runs of spaces inside a line made one, trailing
    spaces of each line and runs of blank lines removed, the whole stripped. Indentation is kept: code
    examples need it."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _INNER_SPACE.sub(" ", _TRAILING_SPACE.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


def as_text(value: Any) -> str:
    """A cell as text: strings as they are, numbers and booleans written out, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def render(template: TemplateName, fields: Mapping[str, str], system_prompt: str = "") -> dict[str, Any]:
    """One training row from the template's ``fields`` (``instruction`` and ``output`` non-empty)."""
    instruction, extra, output = fields["instruction"], fields.get("input", ""), fields["output"]
    if template == "alpaca":
        prompt = (ALPACA_WITH_INPUT.format(instruction=instruction, input=extra) if extra
                  else ALPACA_WITHOUT_INPUT.format(instruction=instruction))
        return {"prompt": prompt, "completion": output, "text": prompt + output}
    system = fields.get("system", "") or system_prompt
    user = f"{instruction}\n\n{extra}" if extra else instruction
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": output}]
    return {"messages": messages, "text": chat_prompt(user, system) + output + END_OF_TURN}
