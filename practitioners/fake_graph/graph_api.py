"""The Graph API routes under `/v1.0`: subscriptions, events and calendar-view delta.

Every request needs a bearer token the fake identity provider issued, and may be throttled on
request. Answers carry Graph's `request-id` headers and its OData JSON content type; errors have
Graph's `{"error": {"code", "message", "innerError"}}` shape.
"""

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from practitioners.fake_graph.core import FakeGraph
from practitioners.fake_graph.delta import DeltaPage
from practitioners.fake_graph.formats import GraphError, method_not_allowed
from practitioners.fake_graph.web import Call, Handler, Reply, Router

GRAPH_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


def graph_app(graph: FakeGraph) -> Handler:
    """The handler for every request under `/v1.0`."""
    router = _router(graph)

    def app(call: Call) -> Reply:
        request_id = str(uuid.uuid4())
        client_request_id = call.headers.get("client-request-id") or request_id
        try:
            graph.authenticate(call.headers.get("Authorization", ""))
            graph.check_throttling(call.path)
            reply = router.dispatch(call)
        except GraphError as error:
            reply = Reply.json(
                error.status,
                error.body(request_id, client_request_id),
                headers=error.headers,
                content_type=GRAPH_CONTENT_TYPE,
            )
        graph.record_request(call.method, call.path, reply.status)
        tracing = (("request-id", request_id), ("client-request-id", client_request_id))
        return replace(reply, headers=reply.headers + tracing)

    return app


def _router(graph: FakeGraph) -> Router:
    return Router(
        _subscription_routes(graph) | _calendar_routes(graph),
        not_found=_not_found,
        method_not_allowed=method_not_allowed,
        # Graph's URL segments are not case-sensitive (`Users/{id}/Events/{id}` in notifications).
        ignore_case=True,
    )


def _subscription_routes(graph: FakeGraph) -> dict[str, dict[str, Handler]]:
    def subscriptions_list(call: Call) -> Reply:
        return _json_reply(200, _context(graph, "subscriptions") | {"value": graph.subscriptions()})

    def subscription_create(call: Call) -> Reply:
        created = graph.subscription_create(_json_body(call))
        return _json_reply(201, _context(graph, "subscriptions/$entity") | created)

    def subscription_get(call: Call) -> Reply:
        return _json_reply(200, _context(graph, "subscriptions/$entity") | graph.subscription_get(call.params["id"]))

    def subscription_update(call: Call) -> Reply:
        updated = graph.subscription_update(call.params["id"], _json_body(call))
        return _json_reply(200, _context(graph, "subscriptions/$entity") | updated)

    def subscription_reauthorize(call: Call) -> Reply:
        # Graph's documented answer (v1.0 subscription: reauthorize) is 204 No Content.
        graph.subscription_reauthorize(call.params["id"])
        return Reply.empty()

    def subscription_delete(call: Call) -> Reply:
        graph.subscription_delete(call.params["id"])
        return Reply.empty()

    subscription = r"/v1\.0/subscriptions/(?P<id>[^/]+)"
    return {
        r"/v1\.0/subscriptions": {"GET": subscriptions_list, "POST": subscription_create},
        subscription: {"GET": subscription_get, "PATCH": subscription_update, "DELETE": subscription_delete},
        f"{subscription}/reauthorize": {"POST": subscription_reauthorize},
    }


def _calendar_routes(graph: FakeGraph) -> dict[str, dict[str, Handler]]:
    def event_get(call: Call) -> Reply:
        user, calendar_id = call.params["user"], call.params.get("calendar")
        view_zone = _preferences(call).get("outlook.timezone")
        event = graph.event_read(user, call.params["event"], calendar_id=calendar_id, view_zone=view_zone)
        scope = f"users('{user}')" + (f"/calendars('{calendar_id}')" if calendar_id else "")
        headers = (("Preference-Applied", f'outlook.timezone="{view_zone}"'),) if view_zone else ()
        return _json_reply(200, _context(graph, f"{scope}/events/$entity") | event, headers)

    def calendar_view_delta(call: Call) -> Reply:
        user = call.params["user"]
        page_size = _page_size(_preferences(call).get("odata.maxpagesize"))
        if "$skiptoken" in call.query:
            page = graph.delta_next_page(user, call.query["$skiptoken"], page_size)
        elif "$deltatoken" in call.query:
            page = graph.delta_next_round(user, call.query["$deltatoken"], page_size)
        else:
            page = graph.delta_first_page(
                user, call.query.get("startDateTime"), call.query.get("endDateTime"), page_size
            )
        links = _delta_links(graph, user, page)
        return _json_reply(200, _context(graph, "Collection(event)") | links | {"value": page.items})

    user = r"/v1\.0/users/(?P<user>[^/]+)"
    return {
        f"{user}/events/(?P<event>[^/]+)": {"GET": event_get},
        f"{user}/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)": {"GET": event_get},
        f"{user}/calendarView/delta": {"GET": calendar_view_delta},
    }


def _not_found(call: Call) -> Reply:
    segment = call.path.rstrip("/").rsplit("/", 1)[-1]
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply.json(status, payload, headers=headers, content_type=GRAPH_CONTENT_TYPE)


def _context(graph: FakeGraph, fragment: str) -> dict[str, str]:
    return {"@odata.context": f"{graph.graph_url}/$metadata#{fragment}"}


def _delta_links(graph: FakeGraph, user: str, page: DeltaPage) -> dict[str, str]:
    base = f"{graph.graph_url}/users/{quote(user, safe='@')}/calendarView/delta"
    if page.skip_token is not None:
        return {"@odata.nextLink": f"{base}?$skiptoken={page.skip_token}"}
    return {"@odata.deltaLink": f"{base}?$deltatoken={page.delta_token}"}


def _json_body(call: Call) -> Any:
    try:
        return call.json()
    except ValueError:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None


def _preferences(call: Call) -> dict[str, str]:
    """The `Prefer` header's preferences: `outlook.timezone="..."`, `odata.maxpagesize=N`, ..."""
    preferences: dict[str, str] = {}
    for header in call.headers.get_all("Prefer") or []:
        for preference in header.split(","):
            name, _, value = preference.strip().partition("=")
            preferences[name.strip().lower()] = value.strip().strip('"')
    return preferences


def _page_size(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
