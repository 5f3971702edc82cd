"""Driving a running fake Graph from another process, through its control routes (`/_fake/...`)."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests


class FakeGraphControlError(Exception):
    """The fake answered a control request with an error, or not at all."""


class FakeGraphUnreachableError(FakeGraphControlError):
    pass


class UnknownMailboxError(FakeGraphControlError):
    pass


def control_url_for(graph_api_url: str) -> str:
    """`scheme://host:port` of a Graph API URL: where the fake serving it has its control routes."""
    parts = urlsplit(graph_api_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"{graph_api_url!r} is not an absolute URL")
    return f"{parts.scheme}://{parts.netloc}"


def event_create(*, control_url: str, mailbox: str, event: Mapping[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Creates `event` (a Graph-shaped body, e.g. from `calendly_event`) in `mailbox` (id or principal
    name), as if it had been written in Outlook; returns the event as Graph returns it."""
    url = f"{control_url.rstrip('/')}/_fake/mailboxes/{quote(mailbox, safe='@')}/events"
    try:
        with requests.Session() as session:
            # The fake runs locally: no proxies from the environment.
            session.trust_env = False
            response = session.post(url, json=dict(event), timeout=timeout)
    except requests.RequestException as error:
        raise FakeGraphUnreachableError(f"no fake Graph answered at {control_url} ({type(error).__name__})") from error
    if response.status_code == 201:
        created: dict[str, Any] = response.json()
        return created
    code, message = _error(response)
    if code == "ErrorInvalidUser":
        raise UnknownMailboxError(f"the fake Graph at {control_url} has no mailbox {mailbox!r}")
    raise FakeGraphControlError(f"the fake Graph at {control_url} answered {response.status_code} {code}: {message}")


def subscription_ids(*, control_url: str, timeout: float = 5.0) -> set[str]:
    """The ids of the subscriptions the fake holds now."""
    url = f"{control_url.rstrip('/')}/_fake/subscriptions"
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(url, timeout=timeout)
    except requests.RequestException as error:
        raise FakeGraphUnreachableError(f"no fake Graph answered at {control_url} ({type(error).__name__})") from error
    if response.status_code != 200:
        code, message = _error(response)
        raise FakeGraphControlError(
            f"the fake Graph at {control_url} answered {response.status_code} {code}: {message}"
        )
    return {str(item.get("id")) for item in response.json().get("value") or []}


def _error(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "", response.text[:200]
