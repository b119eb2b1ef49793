"""The export formats' table and the validation of format names."""

from __future__ import annotations

import pytest

from embodied_ai.errors import ErrorCode, InvalidRequest
from embodied_ai.exports.formats import FORMAT_NAMES, FORMATS, export_format, validate_formats


def test_the_four_formats_and_how_each_downloads() -> None:
    assert FORMAT_NAMES == ("adapter", "merged", "gguf", "onnx_adapter")
    assert (FORMATS["gguf"].media_type, FORMATS["gguf"].download_suffix) == ("application/octet-stream", ".gguf")
    assert FORMATS["onnx_adapter"].download_suffix == ".onnx_adapter"
    assert (FORMATS["merged"].media_type, FORMATS["merged"].download_suffix) == ("application/x-tar", ".tar")
    assert [f.name for f in FORMATS.values() if f.needs_adapter] == ["adapter", "onnx_adapter"]


def test_an_unknown_format_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(InvalidRequest) as refused:
        export_format("safetensors")
    assert refused.value.code == ErrorCode.BAD_REQUEST
    assert "adapter, merged, gguf, onnx_adapter" in str(refused.value)


def test_every_unknown_format_of_a_list_is_listed() -> None:
    assert [f.name for f in validate_formats(["gguf", "adapter"])] == ["gguf", "adapter"]
    with pytest.raises(InvalidRequest) as refused:
        validate_formats(["gguf", "onnx", "pt"])
    assert len(refused.value.problems) == 2
