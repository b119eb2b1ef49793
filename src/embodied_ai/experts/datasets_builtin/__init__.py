"""Dataset builders of the default experts; each writes JSONL rows of prompt and completion."""
