"""The service's URLs plus the baselines; served only while a benchmark runs."""

from django.urls import path

from benchmarks.baseline_views import bare_accept, raw_store_accept
from config.urls import urlpatterns as service_urlpatterns

urlpatterns = [
    path("benchmark/bare", bare_accept),
    path("benchmark/raw-store", raw_store_accept),
    *service_urlpatterns,
]
