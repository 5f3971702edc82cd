"""`python -m medirecords.sandbox --port 8100`: serves the sandbox until SIGINT or SIGTERM.

The fault flags set the faults it starts with (and returns to on reset); the control endpoints can
change them while it runs.
"""

import argparse
import sys
import threading
from collections.abc import Sequence

from medirecords.sandbox.http_server import run_until_signalled, serve_until_stopped
from medirecords.sandbox.server import SandboxServer


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a rate from 0 to 1")
    return value


def _at_least_zero(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is less than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m medirecords.sandbox",
        description="Serve a stateful MediRecords API sandbox (bind it to localhost only).",
    )
    parser.add_argument("--port", type=int, default=8100, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--token", default="sandbox-token", help="the bearer token to accept")
    parser.add_argument("--fhir-token", default=None, help="a separate token for FHIR calls (default: --token)")
    parser.add_argument("--data-file", default=None, help="JSON file to load at start and save after each change")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency-ms", type=_at_least_zero, default=0, help="delay every API answer")
    faults.add_argument("--error-rate", type=_rate, default=0.0, help="share of API requests answered 500")
    faults.add_argument("--rate-limit-rate", type=_rate, default=0.0, help="share of API requests answered 429")
    faults.add_argument("--retry-after", type=_at_least_zero, default=1, help="Retry-After seconds on a 429")
    faults.add_argument(
        "--drop-create-rate",
        type=_rate,
        default=0.0,
        help="share of patient and appointment creates that are performed but never answered",
    )
    faults.add_argument("--seed", type=int, default=None, help="seed for the random faults, to repeat a run")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_until_signalled(lambda stopping: _serve(args, stopping))


def _serve(args: argparse.Namespace, stopping: threading.Event) -> int:
    faults = {
        "latency_ms": args.latency_ms,
        "error_rate": args.error_rate,
        "rate_limit_rate": args.rate_limit_rate,
        "retry_after_seconds": args.retry_after,
        "drop_create_rate": args.drop_create_rate,
        "seed": args.seed,
    }
    return serve_until_stopped(
        lambda: SandboxServer(
            port=args.port,
            host=args.host,
            token=args.token,
            fhir_token=args.fhir_token,
            data_file=args.data_file,
            faults=faults,
        ),
        name="medirecords sandbox",
        announcement=lambda server: f"MediRecords sandbox serving on {server.url} (API {server.api_url})",
        verbose=args.verbose,
        stopping=stopping,
    )


if __name__ == "__main__":
    sys.exit(main())
