from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from config.views import health

admin.site.site_header = "Clinic operations"
admin.site.site_title = "Clinic operations"
admin.site.index_title = "Staff console"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health, name="health"),
    path("admin/", admin.site.urls),
]
