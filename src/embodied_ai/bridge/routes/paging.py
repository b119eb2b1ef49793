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


MAX_PAGE_NUMBER = 1_000_000   # seed 003's ?page: beyond it an offset would overflow the stores' 64-bit integers


def page_count(total: int, limit: int) -> int:
    return max(1, -(-total // limit))


def paginate_pages(request: Request, response: Response, page: int, limit: int, total: int) -> int:
    """Seed 003's ``?page&limit`` paging: ``X-Total-Count``, ``X-Page-Count`` and ``Link: rel="next"``
    (the request's query with the next page) set on ``response``; returns the page count."""
    pages = page_count(total, limit)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Page-Count"] = str(pages)
    if page < pages:
        response.headers["Link"] = f'<{request.url.include_query_params(page=page + 1, limit=limit)}>; rel="next"'
    return pages
