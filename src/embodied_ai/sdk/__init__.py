"""Python SDK of the REST bridge: ``from embodied_ai import Client`` (see ``client``)."""

from embodied_ai.sdk.client import Client, TokenStream
from embodied_ai.sdk.errors import ApiError

__all__ = ["Client", "TokenStream", "ApiError"]
