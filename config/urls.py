from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from bookings.office365 import receivers
from config.rate_limits import View, rate_limited
from config.views import health
from forms_intake import receivers as form_receivers


def _graph(view: receivers.GraphView) -> View:
    return rate_limited(view, group="graph", rate_setting="RATELIMIT_GRAPH")


def _jotform(view: form_receivers.FormView) -> View:
    return rate_limited(view, group="jotform", rate_setting="RATELIMIT_JOTFORM")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health, name="health"),
    # Password (and code) guesses are counted per address before admin.site.urls sees them.
    path(
        "admin/login/",
        rate_limited(admin.site.login, group="login", rate_setting="RATELIMIT_LOGIN", methods=("POST",)),
        name="login-rate-limited",
    ),
    path("admin/", admin.site.urls),
    # Microsoft Graph change notifications: free initial consultations, paid bookings, and
    # the subscriptions' lifecycle events.
    path("booking/consultant", _graph(receivers.graph_consultant_receiver), name="graph-consultant"),
    path("booking/practitioner", _graph(receivers.graph_practitioner_receiver), name="graph-practitioner"),
    path("booking/lifecycle", _graph(receivers.graph_lifecycle_receiver), name="graph-lifecycle"),
    # JotForm webhooks (the secret token is in the query string): intake forms and triage.
    path("forms/mini", _jotform(form_receivers.jotform_mini_receiver), name="forms-mini"),
    path("forms/full", _jotform(form_receivers.jotform_full_receiver), name="forms-full"),
    path("forms/triage", _jotform(form_receivers.jotform_triage_receiver), name="forms-triage"),
]
