"""What every `embodied` command that talks to the REST bridge shares: the connection options and
running a command with a client, a refusal or a bad input printed as one line with exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embodied_ai.sdk import Client

DEFAULT_URL = "http://localhost:8000"
Command = Callable[["Client", argparse.Namespace], int]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("EMBODIED_URL", DEFAULT_URL),
                        help=f"the bridge (default: $EMBODIED_URL or {DEFAULT_URL})")
    parser.add_argument("--api-key", default=os.environ.get("EMBODIED_API_KEY"),
                        help="an API key or access token (default: $EMBODIED_API_KEY)")


def run_with_client(args: argparse.Namespace, command: Command, name: str,
                    bad_input: tuple[type[Exception], ...] = (OSError, ValueError)) -> int:
    """``command``'s exit status; an API error or ``bad_input`` prints ``embodied NAME: why`` and gives 2."""
    from embodied_ai.sdk import ApiError, Client

    caught: tuple[type[Exception], ...] = (ApiError, *bad_input)
    try:
        with Client(api_key=args.api_key, base_url=args.url, max_retries=2) as client:
            return command(client, args)
    except caught as exc:
        print(f"embodied {name}: {exc}", file=sys.stderr)
        return 2
