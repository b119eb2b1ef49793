"""Pages of lists, as architecture.md's API conventions have them: ``total`` and ``has_more`` in the
body, ``X-Total-Count`` and ``Link: rel="next"`` in the headers."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request, Response

from embodied_ai.bridge.schemas.common import Pagination


def paginate(request: Request, response: Response, limit: int, offset: int, shown: int, total: int,
             replaced: Sequence[str] = ()) -> Pagination:
    """This page's pagination, its headers set on ``response``; the next page's link keeps the request's
    query but its offset (and drops ``replaced`` parameters, such as a seed's ``page`` / ``per_page``)."""
    has_more = offset + shown < total
    response.headers["X-Total-Count"] = str(total)
    if has_more:
        following = request.url.remove_query_params(list(replaced)).include_query_params(
            offset=offset + shown, limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return Pagination(limit=limit, offset=offset, total=total, has_more=has_more)
