from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from bookings import receivers
from config.views import health
from forms_intake import receivers as form_receivers

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health, name="health"),
    path("admin/", admin.site.urls),
    # Microsoft Graph change notifications: free initial consultations, paid bookings, and
    # the subscriptions' lifecycle events.
    path("booking/consultant", receivers.graph_consultant_receiver, name="graph-consultant"),
    path("booking/practitioner", receivers.graph_practitioner_receiver, name="graph-practitioner"),
    path("booking/lifecycle", receivers.graph_lifecycle_receiver, name="graph-lifecycle"),
    # JotForm webhooks (the secret token is in the query string): intake forms and triage.
    path("forms/mini", form_receivers.jotform_mini_receiver, name="forms-mini"),
    path("forms/full", form_receivers.jotform_full_receiver, name="forms-full"),
    path("forms/triage", form_receivers.jotform_triage_receiver, name="forms-triage"),
]
