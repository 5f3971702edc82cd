"""The two baselines the receiver is measured against, served by the same server.

`bare_accept` is the framework's ceiling: no work at all. `raw_store_accept` is the ceiling
of any receiver that stores before it acknowledges: one INSERT of the raw body into a plain
table (created by the benchmark script) and 202.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

RAW_TABLE = "benchmark_raw_delivery"


@csrf_exempt
@require_POST
def bare_accept(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=202)


@csrf_exempt
@require_POST
def raw_store_accept(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {RAW_TABLE} (body) VALUES (%s)", [request.body])  # noqa: S608 - constant name
    return HttpResponse(status=202)
