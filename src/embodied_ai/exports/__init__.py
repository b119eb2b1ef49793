"""Exports of trained model versions: a PEFT adapter, the merged Hugging Face model, a checked
GGUF file, and the ``.onnx_adapter`` the runtime serves (``formats`` lists them, ``export``
writes them)."""
