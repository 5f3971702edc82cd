"""The address a request came from, for the login lockout and the audit trail.

X-Forwarded-For holds whatever the client wrote, followed by what each proxy on the way
appended. It is believed only as far as the proxies configured in front of the service:
TRUSTED_PROXY_IPS (the proxy hops, outermost first, each an address, a CIDR network or a
prefix; the last is the one that connects to us) or TRUSTED_PROXY_COUNT (how many proxies
there are). With neither, the default, the address is the TCP peer (REMOTE_ADDR) and the
header is ignored.

django-ipware (the library django-axes supports) validates the chain and picks the client's
position in it. It is given the header with REMOTE_ADDR appended, because it checks only the
header's own entries: on its own it would believe a client that connects directly and
writes a trusted proxy's address into the header itself.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ipware.ip import get_client_ip
from python_ipware import IpWare

# The one header read; the proxies in front of the service must set it.
FORWARDED_CHAIN = "HTTP_X_FORWARDED_FOR"


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or the one the trusted proxies say connected to them."""
    peer = str(request.META.get("REMOTE_ADDR") or "").strip() or None
    proxy_count: int = settings.TRUSTED_PROXY_COUNT
    proxy_ips: list[str] = settings.TRUSTED_PROXY_IPS
    if peer is None or not (proxy_count or proxy_ips):
        return peer
    forwarded = str(request.META.get(FORWARDED_CHAIN, "")).strip()
    address, _ = _read_chain(
        f"{forwarded}, {peer}" if forwarded else peer, proxy_count=proxy_count, proxy_ips=proxy_ips
    )
    # A chain the configuration does not vouch for (a direct client, a missing hop) yields no
    # address: then the peer itself, the one address nobody could have written.
    return address or peer


def trusted_proxies_check(*, proxy_count: int, proxy_ips: list[str]) -> None:
    """Refuse a proxy configuration django-ipware cannot use, at start rather than at a login.

    Called from the settings module, so it must not read a setting: python-ipware's own
    constructor (django-ipware's engine) checks the values without any.
    """
    try:
        IpWare(proxy_count=proxy_count or None, proxy_list=list(proxy_ips) or None)
    except ValueError as error:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_IPS / TRUSTED_PROXY_COUNT: {error}") from None


def _read_chain(chain: str, *, proxy_count: int, proxy_ips: list[str]) -> tuple[str | None, bool]:
    """django-ipware's reading of a client-first chain that ends with the peer."""
    forwarded = HttpRequest()
    forwarded.META = {FORWARDED_CHAIN: chain}
    return get_client_ip(
        forwarded,
        proxy_count=proxy_count or None,
        proxy_trusted_ips=proxy_ips or None,
        request_header_order=[FORWARDED_CHAIN],
        strict=False,
    )
