"""The control routes under `/_fake/`: drive the fake from another process (a person, `simulate_booking`,
an end-to-end test). No authentication: bind the fake to localhost.

    GET  /_fake/mailboxes                              {"value": [mailbox, ...]}
    POST /_fake/mailboxes                              {id?, principal_name, display_name} -> 201 mailbox
    POST /_fake/mailboxes/{user}/calendars             -> 201 {"id"}
    GET  /_fake/mailboxes/{user}/events                {"value": [event, ...]}
    POST /_fake/mailboxes/{user}/events                Graph-shaped event -> 201 event (notifies "created")
    GET  /_fake/mailboxes/{user}/events/{id}           event
    PATCH /_fake/mailboxes/{user}/events/{id}          some properties -> 200 event (notifies "updated")
    DELETE /_fake/mailboxes/{user}/events/{id}         -> 204 (notifies "deleted")
    GET  /_fake/subscriptions                          {"value": [subscription, ...]}
    POST /_fake/subscriptions/{id}/lifecycle           {"lifecycleEvent"} -> 200 delivery
    POST /_fake/subscriptions/forget                   -> {"forgotten": n}: Graph drops them all, telling nobody
    GET  /_fake/notifications                          {"value": [delivery, ...]}
    GET|POST /_fake/throttle                           {status, count, path_prefix?, retry_after} -> {"value": queue}
    GET|POST /_fake/options                            {duplicate_updates?, delta_page_size?} -> options
    GET  /_fake/tokens                                 {"issued": n}
    POST /_fake/tokens/expire                          -> 204
    POST /_fake/delta/expire                           -> 204
    GET  /_fake/requests                               {"value": [{method, path, status}, ...]}
    POST /_fake/reset                                  -> 204

`{user}` is a mailbox's id or principal name. Errors have Graph's error shape.
"""

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from practitioners.fake_graph.core import FakeGraph
from practitioners.fake_graph.formats import GraphError, invalid_request, method_not_allowed
from practitioners.fake_graph.web import Call, Handler, Reply, Router


def control_app(graph: FakeGraph) -> Handler:
    """The handler for every request under `/_fake/`."""
    router = _router(graph)

    def app(call: Call) -> Reply:
        try:
            return router.dispatch(call)
        except GraphError as error:
            return Reply.json(error.status, error.body(str(uuid.uuid4())), headers=error.headers)

    return app


def _router(graph: FakeGraph) -> Router:
    def ok(payload: Any, status: int = 200) -> Reply:
        return Reply.json(status, payload)

    def done(action: Callable[[], object]) -> Handler:
        def handler(call: Call) -> Reply:
            action()
            return Reply.empty()

        return handler

    def mailbox_add(call: Call) -> Reply:
        body = _object(call)
        mailbox = graph.add_mailbox(
            id=_optional_text(body, "id"),
            principal_name=_text(body, "principal_name"),
            display_name=_text(body, "display_name"),
        )
        return ok(mailbox, 201)

    def event_delete(call: Call) -> Reply:
        graph.delete_event(call.params["user"], call.params["event"])
        return Reply.empty()

    def lifecycle_send(call: Call) -> Reply:
        event = _text(_object(call), "lifecycleEvent")
        return ok(graph.send_lifecycle(call.params["id"], event).as_json())

    def throttle_add(call: Call) -> Reply:
        body = _object(call)
        graph.throttle_next(
            status=_number(body, "status", 429),
            count=_number(body, "count", 1),
            path_prefix=_optional_text(body, "path_prefix"),
            retry_after=_number(body, "retry_after", 1),
        )
        return ok({"value": graph.throttles()})

    def options_set(call: Call) -> Reply:
        body = _object(call)
        duplicates = body.get("duplicate_updates")
        if duplicates is not None and not isinstance(duplicates, bool):
            raise invalid_request("duplicate_updates must be true or false.")
        page_size = _number(body, "delta_page_size", 0) if "delta_page_size" in body else None
        return ok(graph.set_options(duplicate_updates=duplicates, delta_page_size=page_size).as_json())

    def not_found(call: Call) -> Reply:
        raise GraphError(404, "ResourceNotFound", f"No control endpoint at {call.path}.")

    mailbox = r"/_fake/mailboxes/(?P<user>[^/]+)"
    event = f"{mailbox}/events/(?P<event>[^/]+)"
    return Router(
        {
            "/_fake/mailboxes": {"GET": lambda call: ok({"value": graph.mailboxes()}), "POST": mailbox_add},
            f"{mailbox}/calendars": {"POST": lambda call: ok({"id": graph.add_calendar(call.params["user"])}, 201)},
            f"{mailbox}/events": {
                "GET": lambda call: ok({"value": graph.events(call.params["user"])}),
                "POST": lambda call: ok(graph.create_event(call.params["user"], _object(call)), 201),
            },
            event: {
                "GET": lambda call: ok(graph.event_read(call.params["user"], call.params["event"])),
                "PATCH": lambda call: ok(graph.update_event(call.params["user"], call.params["event"], _object(call))),
                "DELETE": event_delete,
            },
            "/_fake/subscriptions": {"GET": lambda call: ok({"value": graph.subscriptions()})},
            "/_fake/subscriptions/forget": {"POST": lambda call: ok({"forgotten": graph.forget_subscriptions()})},
            "/_fake/subscriptions/(?P<id>[^/]+)/lifecycle": {"POST": lifecycle_send},
            "/_fake/notifications": {"GET": lambda call: ok({"value": [d.as_json() for d in graph.notifications()]})},
            "/_fake/throttle": {"GET": lambda call: ok({"value": graph.throttles()}), "POST": throttle_add},
            "/_fake/options": {"GET": lambda call: ok(graph.options.as_json()), "POST": options_set},
            "/_fake/tokens": {"GET": lambda call: ok({"issued": graph.tokens_issued()})},
            "/_fake/tokens/expire": {"POST": done(graph.expire_tokens)},
            "/_fake/delta/expire": {"POST": done(graph.expire_delta_tokens)},
            "/_fake/requests": {"GET": lambda call: ok({"value": graph.requests()})},
            "/_fake/reset": {"POST": done(graph.reset)},
        },
        not_found=not_found,
        method_not_allowed=method_not_allowed,
    )


def _object(call: Call) -> Mapping[str, Any]:
    try:
        body = call.json()
    except ValueError:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object.")
    return body


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid_request(f"{name} is required.")
    return value


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_request(f"{name} must be a string.")
    return value


def _number(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_request(f"{name} must be a whole number.")
    return value
