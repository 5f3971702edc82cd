from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from practitioners import clients
from practitioners.graph.client import GraphClient
from practitioners.graph.subscriptions import SyncReport, graph_subscriptions_delete, graph_subscriptions_sync
from practitioners.models import GraphSubscription, Practitioner

# How long sync waits for a pass already running (beat's renewal or check) to finish.
SYNC_WAIT_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Keep the practitioners' Office 365 calendars subscribed to Microsoft Graph: "
        "sync (create, renew, delete to match the practice), list, or delete ours."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["sync", "list", "delete"])
        parser.add_argument("--practitioner", metavar="SLUG", help="Only this practitioner (list and delete).")

    def handle(self, *args: Any, **options: Any) -> None:
        practitioner = self._practitioner(options["practitioner"])
        if options["action"] == "list":
            self._list(practitioner)
        elif options["action"] == "sync":
            if practitioner is not None:
                raise CommandError("sync always covers the whole practice; --practitioner applies to list and delete")
            self._report(graph_subscriptions_sync(client=self._client(), wait_seconds=SYNC_WAIT_SECONDS))
        else:
            self._report(graph_subscriptions_delete(client=self._client(), practitioner=practitioner))

    def _list(self, practitioner: Practitioner | None) -> None:
        subscriptions = GraphSubscription.objects.select_related("practitioner").order_by(
            "practitioner__slug", "expires_at"
        )
        if practitioner is not None:
            subscriptions = subscriptions.filter(practitioner=practitioner)
        time_zone = ZoneInfo(settings.PRACTICE_TIME_ZONE)
        count = 0
        for subscription in subscriptions:
            count += 1
            expiry = subscription.expires_at.astimezone(time_zone).strftime("%Y-%m-%d %H:%M %Z")
            health = "healthy" if subscription.is_healthy else f"UNHEALTHY ({subscription.renewal_failures} failures)"
            line = f"{subscription.practitioner.slug}  {subscription.receiver}  {subscription.graph_id}  "
            line += f"expires {expiry}  {health}"
            if subscription.last_error:
                line += f"  last error: {subscription.last_error}"
            self.stdout.write(line)
        if not count:
            self.stdout.write("No Graph subscriptions.")

    def _report(self, report: SyncReport) -> None:
        if report.busy:
            raise CommandError(
                f"another subscription upkeep pass (beat) was still running after {SYNC_WAIT_SECONDS} s; "
                "nothing was done, try again"
            )
        for label, names in (("created", report.created), ("renewed", report.renewed), ("deleted", report.deleted)):
            self.stdout.write(f"{label}: {', '.join(names) if names else '-'}")
        for name, message in report.failed:
            self.stderr.write(f"failed: {name}: {message}")
        if report.created:
            # The worker's calendar resync round (every minute under beat) imports them.
            self.stdout.write("calendars newly subscribed have their events imported by the next resync round")
        if report.failed:
            raise CommandError(f"{len(report.failed)} failed; the others were done (see above)")

    @staticmethod
    def _practitioner(slug: str | None) -> Practitioner | None:
        if slug is None:
            return None
        try:
            return Practitioner.objects.get(slug=slug)
        except Practitioner.DoesNotExist:
            raise CommandError(f"no practitioner with slug {slug!r}") from None

    @staticmethod
    def _client() -> GraphClient:
        missing = clients.graph_settings_missing()
        if missing:
            raise CommandError(f"Microsoft Graph is not configured: set {', '.join(missing)}")
        return clients.graph_client()
