"""The mixture of domain experts: one quantized base model with per-expert LoRA adapters.

Modules: ``paths`` (state and cache folders), ``base_build`` (GGUF → ONNX base with LoRA
inputs), ``registry`` (SQLite), ``engine`` (ONNX Runtime GenAI inference), ``training``
(LoRA with torch), ``adapters`` (PEFT → .onnx_adapter), ``robot_actions`` (the JSON action
contract), ``commander`` (words → validated robot actions), ``datasets_builtin`` (the default
experts' dataset builders), ``service`` (all of it as one object, opened as the experts node
runs it), ``jobs`` (training jobs as a caller follows them), ``config`` (the experts node's
parameters). The router and dataset validation are in ``router/`` and
``datasets``.
"""
