"""The chat format every expert is trained and served with (SmolLM2's ChatML).

One function renders it, used by training and by the engine, so the two can never drift.
"""

from __future__ import annotations

END_OF_TURN = "<|im_end|>"


def chat_prompt(user: str, system: str = "") -> str:
    """The text before the assistant's answer; the answer is followed by END_OF_TURN."""
    parts = []
    if system:
        parts.append(f"<|im_start|>system\n{system}{END_OF_TURN}\n")
    parts.append(f"<|im_start|>user\n{user}{END_OF_TURN}\n<|im_start|>assistant\n")
    return "".join(parts)
