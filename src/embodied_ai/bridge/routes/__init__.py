"""FastAPI routers, one module per resource of the Robot API (plus OpenAI compatibility, the
WebSocket and the dashboard). Handlers translate HTTP to the ports' dataclasses and back."""
