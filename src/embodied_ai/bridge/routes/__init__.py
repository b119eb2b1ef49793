"""FastAPI routers, one module per resource of seed 000 (plus OpenAI compatibility, the
WebSocket and the dashboard). Handlers translate HTTP to the ports' dataclasses and back."""
