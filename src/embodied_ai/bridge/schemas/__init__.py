"""Pydantic models of the HTTP contract, one module per resource. They import only pydantic,
so the SDK (``embodied_ai.sdk``) shares them without pulling in the server."""
