"""`FakeGraphServer`: a `FakeGraph` served over real sockets from background threads.

Two listeners: the identity provider over HTTPS (msal accepts only https authorities), with a
certificate made at start; and the Graph API (`/v1.0`) with the control routes (`/_fake/`) over
plain HTTP.
"""

import shutil
import tempfile
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Self

from medirecords.sandbox.http_server import LocalFake
from practitioners.fake_graph.control_api import control_app
from practitioners.fake_graph.core import FakeGraph
from practitioners.fake_graph.graph_api import graph_app
from practitioners.fake_graph.seed import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, MailboxSeed
from practitioners.fake_graph.tls import certificate_write, server_context
from practitioners.fake_graph.web import BackgroundServer, Call, Handler, Reply


class FakeGraphServer(FakeGraph, LocalFake):
    """Microsoft Graph and its identity provider on localhost, for people (`make run`) and tests.

        with FakeGraphServer() as fake:
            app = msal.ConfidentialClientApplication(
                fake.client_id, authority=fake.authority, client_credential=fake.client_secret,
                instance_discovery=False, http_client=session_trusting(fake.ca_cert_path))
            requests.get(f"{fake.graph_url}/users/{mailbox}/events/{id}", headers=...)

    Mailboxes default to the practice's five (`FAKE_MAILBOXES`); pass `mailboxes=()` for none.
    """

    def __init__(
        self,
        *,
        graph_port: int = 0,
        identity_port: int = 0,
        host: str = "127.0.0.1",
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        cert_dir: str | PathLike[str] | None = None,
        mailboxes: Iterable[MailboxSeed] | None = None,
        duplicate_updates: bool = False,
        delta_page_size: int = 10,
    ) -> None:
        super().__init__(
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            mailboxes=mailboxes,
            duplicate_updates=duplicate_updates,
            delta_page_size=delta_page_size,
        )
        self.client_secret = client_secret
        self.host = host
        self._graph_port = graph_port
        self._identity_port = identity_port
        self._cert_dir = Path(cert_dir) if cert_dir is not None else None
        self._temporary_cert_dir: Path | None = None
        self._ca_cert_path: Path | None = None
        self._listeners: list[BackgroundServer] = []

    # Lifecycle.

    def start(self) -> Self:
        if self._listeners:
            raise RuntimeError("the fake Graph is already running")
        cert_dir = self._cert_dir
        if cert_dir is None:
            cert_dir = self._temporary_cert_dir = Path(tempfile.mkdtemp(prefix="fake-graph-"))
        certificate = certificate_write(cert_dir)
        self._ca_cert_path = certificate.certificate
        identity = BackgroundServer(
            self.identity,
            host=self.host,
            port=self._identity_port,
            name="fake-graph-identity",
            ssl_context=server_context(certificate),
        )
        graph = BackgroundServer(self._graph_and_control(), host=self.host, port=self._graph_port, name="fake-graph")
        try:
            for listener in (identity, graph):
                listener.start()
                self._listeners.append(listener)
        except OSError:
            self.stop()
            raise
        self.identity.authority_host = identity.url
        self.graph_url = f"{graph.url}/v1.0"
        return self

    def stop(self) -> None:
        """Stops both listeners and the notification thread; a temporary certificate is deleted."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.stop()
        self._dispatcher.stop()
        if self._temporary_cert_dir is not None:
            shutil.rmtree(self._temporary_cert_dir, ignore_errors=True)
            self._temporary_cert_dir = None

    # Where it is.

    @property
    def authority_host(self) -> str:
        """`https://127.0.0.1:<port>`: AZURE_AUTHORITY_HOST."""
        self._require_running()
        return self.identity.authority_host

    @property
    def authority(self) -> str:
        """`https://127.0.0.1:<port>/<tenant>`: msal's `authority`."""
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def ca_cert_path(self) -> str:
        """The PEM certificate to trust for the identity provider (AZURE_CA_BUNDLE)."""
        self._require_running()
        assert self._ca_cert_path is not None  # noqa: S101 -- set whenever running.
        return str(self._ca_cert_path)

    @property
    def control_url(self) -> str:
        """`http://127.0.0.1:<port>`: the root of the control routes (`/_fake/...`)."""
        self._require_running()
        return self.graph_url.removesuffix("/v1.0")

    def _require_running(self) -> None:
        if not self._listeners:
            raise RuntimeError("the fake Graph has not been started")

    def _graph_and_control(self) -> Handler:
        graph, control = graph_app(self), control_app(self)

        def app(call: Call) -> Reply:
            if call.path == "/_fake" or call.path.startswith("/_fake/"):
                return control(call)
            return graph(call)

        return app
