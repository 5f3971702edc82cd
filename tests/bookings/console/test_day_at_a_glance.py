"""The day at a glance on the console's index: the practice's today and tomorrow, and what needs a person."""

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from bookings.console import day_at_a_glance
from bookings.models import BookingKind, BookingStatus, DeliveryStatus, SyncState
from forms_intake.models import FormSubmission, FormType, SubmissionStatus
from practitioners.models import StaffProfile, SubscriptionGap
from tests.bookings.factories import BookingFactory, InboundDeliveryFactory
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Half an hour before midnight in Sydney, but mid-morning of the same date in UTC: the next
# Sydney morning is still "today" in UTC, which is exactly what the glance must not go by.
NOW = datetime(2026, 12, 1, 23, 30, tzinfo=SYDNEY)


@pytest.fixture(autouse=True)
def _practice_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def dr_dia():
    return PractitionerFactory(slug="dr-dia", display_name="Dr Dia", display_order=1)


@pytest.fixture
def nurse():
    return PractitionerFactory(slug="nurse", display_name="Nurse", display_order=2)


def sydney(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SYDNEY)


def book(practitioner, starts_at: datetime, *, minutes: int = 30, **fields):
    return BookingFactory(
        practitioner=practitioner, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields
    )


@pytest.fixture
def week(dr_dia, nurse):
    """Bookings around the Sydney day boundary, named by what the glance should make of them."""
    return {
        "dia_today": book(dr_dia, sydney(1, 8), kind=BookingKind.FREE_INITIAL, sync_state=SyncState.NEEDS_REVIEW),
        "nurse_today": book(nurse, sydney(1, 14), sync_state=SyncState.SYNCED),
        "dia_tomorrow": book(dr_dia, sydney(2, 9), minutes=45, sync_state=SyncState.NEEDS_ATTENTION),
        "nurse_tomorrow_late": book(nurse, sydney(2, 23, 15)),
        "dia_cancelled_today": book(dr_dia, sydney(1, 10), status=BookingStatus.CANCELLED),
        "dia_day_after_tomorrow": book(dr_dia, sydney(3, 0, 30)),
        "nurse_yesterday": book(nurse, sydney(1, 0) - timedelta(minutes=30)),
    }


def staff_login(django_user_model, *, username: str, group: str, practitioner=None):
    user = django_user_model.objects.create_user(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    if practitioner is not None:
        StaffProfile.objects.create(user=user, practitioner=practitioner)
    return user


def index_page(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def element(page: str, tag: str, element_id: str) -> str | None:
    """The inner HTML of the `tag` element with id `element_id` (tags of that name do not nest here)."""
    match = re.search(rf'<{tag}\b[^>]*\bid="{element_id}"[^>]*>(.*?)</{tag}>', page, re.DOTALL)
    return match.group(1) if match else None


def glance_section(page: str) -> str:
    """Everything the glance adds to the index, up to the app list."""
    return page[page.index('id="day-at-a-glance"') : page.index('id="content-main"')]


def count_link(page: str, element_id: str) -> tuple[int, str]:
    """The number shown by the count `element_id` and where it links to."""
    match = re.search(rf'<a id="{element_id}" href="([^"]*)">(.*?)</a>', page, re.DOTALL)
    assert match is not None, f"no count {element_id}"
    return int(re.sub(r"<[^>]+>", "", match.group(2))), unescape(match.group(1))


def booking_labels(section: str | None) -> list[str]:
    return re.findall(r">(Booking #\d+)</a>", section or "")


class TestBookings:
    def test_today_and_tomorrow_are_the_practice_days_per_practitioner(self, admin_client, week):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert booking_labels(element(page, "tbody", "glance-today-dr-dia")) == [str(week["dia_today"])]
        assert booking_labels(element(page, "tbody", "glance-today-nurse")) == [str(week["nurse_today"])]
        assert booking_labels(element(page, "tbody", "glance-tomorrow-dr-dia")) == [str(week["dia_tomorrow"])]
        assert booking_labels(element(page, "tbody", "glance-tomorrow-nurse")) == [str(week["nurse_tomorrow_late"])]
        for hidden in ("dia_cancelled_today", "dia_day_after_tomorrow", "nurse_yesterday"):
            assert f">{week[hidden]}</a>" not in page, hidden

    def test_each_row_shows_practice_time_kind_and_sync_state_and_links_to_the_booking(self, admin_client, week):
        page = admin_client.get(reverse("admin:index")).content.decode()

        today = element(page, "tbody", "glance-today-dr-dia")
        assert today is not None
        assert "08:00\N{EN DASH}08:30" in today
        assert "Free initial consultation" in today
        assert SyncState.NEEDS_REVIEW.label in today
        assert f'href="{reverse("admin:bookings_booking_change", args=[week["dia_today"].pk])}"' in today
        tomorrow = element(page, "tbody", "glance-tomorrow-dr-dia")
        assert tomorrow is not None
        assert "09:00\N{EN DASH}09:45" in tomorrow
        assert "23:15\N{EN DASH}23:45" in (element(page, "tbody", "glance-tomorrow-nurse") or "")

    def test_the_days_are_headed_by_their_practice_dates(self, admin_client, week):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert "Today, Tuesday 1 December" in (element(page, "div", "glance-today") or "")
        assert "Tomorrow, Wednesday 2 December" in (element(page, "div", "glance-tomorrow") or "")

    def test_each_practitioner_day_is_counted(self, admin_client, dr_dia, week):
        book(dr_dia, sydney(1, 16))
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert element(page, "span", "glance-today-dr-dia-count") == "2"
        assert element(page, "span", "glance-today-nurse-count") == "1"
        assert element(page, "span", "glance-tomorrow-dr-dia-count") == "1"

    def test_no_patient_is_named(self, admin_client, week):
        page = admin_client.get(reverse("admin:index")).content.decode()
        glance = glance_section(page)

        patient = week["dia_today"].patient
        assert patient.last_name not in glance
        assert str(patient) not in glance

    def test_a_long_day_is_cut_with_a_link_to_the_rest(self, admin_client, dr_dia, monkeypatch):
        monkeypatch.setattr(day_at_a_glance, "ROWS_PER_PRACTITIONER_DAY", 2)
        first, second, third = (book(dr_dia, sydney(1, hour)) for hour in (9, 10, 11))
        book(dr_dia, sydney(2, 9))
        page = admin_client.get(reverse("admin:index")).content.decode()

        today = element(page, "tbody", "glance-today-dr-dia")
        assert booking_labels(today) == [str(first), str(second)]
        assert element(page, "span", "glance-today-dr-dia-count") == "3"
        more = re.search(r'<a id="glance-today-dr-dia-more" href="([^"]*)">and 1 more</a>', today or "")
        assert more is not None
        changelist = admin_client.get(unescape(more.group(1)))
        assert changelist.status_code == 200
        assert {booking.pk for booking in changelist.context["cl"].result_list} == {first.pk, second.pk, third.pk}
        assert "glance-tomorrow-dr-dia-more" not in page

    def test_a_day_without_bookings_says_so(self, admin_client):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert "No bookings." in (element(page, "div", "glance-today") or "")
        assert "No bookings." in (element(page, "div", "glance-tomorrow") or "")

    def test_the_app_list_is_still_there(self, admin_client):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert page.index('id="day-at-a-glance"') < page.index('id="content-main"')
        assert "app-bookings" in page


@pytest.fixture
def waiting_work(dr_dia, nurse):
    """Rows needing a person: Dr Dia's and the nurse's, and some nobody needs to look at."""
    dia_review = book(dr_dia, sydney(5, 9), sync_state=SyncState.NEEDS_REVIEW)
    book(nurse, sydney(5, 9), sync_state=SyncState.NEEDS_REVIEW)
    book(nurse, sydney(6, 9), sync_state=SyncState.NEEDS_ATTENTION)
    book(dr_dia, sydney(6, 10), sync_state=SyncState.SYNCED)
    nurse_booking = book(nurse, sydney(7, 9))
    submissions = [
        (SubmissionStatus.NEEDS_ATTENTION, dia_review),
        (SubmissionStatus.NEEDS_ATTENTION, nurse_booking),
        (SubmissionStatus.UNMATCHED, None),
        (SubmissionStatus.PROCESSED, dia_review),
    ]
    for number, (status, booking) in enumerate(submissions):
        FormSubmission.objects.create(
            submission_id=f"63000000000000000{number}",
            form_type=FormType.FULL,
            jotform_form_id="251234567890123",
            status=status,
            booking=booking,
        )
    GraphSubscriptionFactory(practitioner=dr_dia, is_healthy=False)
    GraphSubscriptionFactory(practitioner=nurse)
    InboundDeliveryFactory(status=DeliveryStatus.FAILED)
    InboundDeliveryFactory(status=DeliveryStatus.RECEIVED)
    InboundDeliveryFactory(status=DeliveryStatus.RECEIVED)
    InboundDeliveryFactory(status=DeliveryStatus.PROCESSED)


EVERY_COUNT = {
    "glance-needs-review": (2, "/admin/bookings/booking/?sync_state__exact=needs_review"),
    "glance-needs-attention": (1, "/admin/bookings/booking/?sync_state__exact=needs_attention"),
    "glance-submissions-needs-attention": (2, "/admin/forms_intake/formsubmission/?status__exact=needs_attention"),
    "glance-submissions-unmatched": (1, "/admin/forms_intake/formsubmission/?status__exact=unmatched"),
    "glance-subscriptions-unhealthy": (1, "/admin/practitioners/graphsubscription/?is_healthy__exact=0"),
    "glance-deliveries-failed": (1, "/admin/bookings/inbounddelivery/?status__exact=failed"),
    "glance-deliveries-waiting": (2, "/admin/bookings/inbounddelivery/?status__exact=received"),
}


class TestNeedsAPerson:
    @pytest.mark.parametrize(("element_id", "expected"), EVERY_COUNT.items())
    def test_each_count_links_to_its_filtered_list(self, admin_client, waiting_work, element_id, expected):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert count_link(page, element_id) == expected
        changelist = admin_client.get(expected[1])
        assert changelist.status_code == 200
        assert changelist.context["cl"].result_count == expected[0]

    def test_counts_are_zero_when_nothing_waits(self, admin_client):
        page = admin_client.get(reverse("admin:index")).content.decode()

        assert {element_id: count_link(page, element_id)[0] for element_id in EVERY_COUNT} == dict.fromkeys(
            EVERY_COUNT, 0
        )


class TestWhoSeesWhat:
    def test_a_practitioner_sees_only_their_own_bookings_and_no_inbox_or_subscriptions(
        self, client, django_user_model, dr_dia, week, waiting_work
    ):
        user = staff_login(django_user_model, username="dia", group="Practitioner", practitioner=dr_dia)
        page = index_page(client, user)

        assert booking_labels(element(page, "tbody", "glance-today-dr-dia")) == [str(week["dia_today"])]
        assert booking_labels(element(page, "tbody", "glance-tomorrow-dr-dia")) == [str(week["dia_tomorrow"])]
        assert "glance-today-nurse" not in page
        assert "glance-tomorrow-nurse" not in page
        assert count_link(page, "glance-needs-review")[0] == 2  # this week's and the fixture's, both Dr Dia's
        assert count_link(page, "glance-needs-attention")[0] == 1
        assert count_link(page, "glance-submissions-needs-attention")[0] == 1
        assert count_link(page, "glance-submissions-unmatched")[0] == 0
        for hidden in ("glance-subscriptions", "glance-inbox", "glance-subscriptions-unhealthy", "glance-deliveries"):
            assert hidden not in page

    def test_a_practitioner_login_without_a_practitioner_sees_no_bookings(self, client, django_user_model, week):
        user = staff_login(django_user_model, username="nobody", group="Practitioner")
        page = index_page(client, user)

        assert booking_labels(glance_section(page)) == []
        assert count_link(page, "glance-needs-review")[0] == 0

    def test_the_front_desk_sees_every_practitioner_and_every_block(
        self, client, django_user_model, week, waiting_work
    ):
        user = staff_login(django_user_model, username="desk", group="Front desk")
        page = index_page(client, user)

        for practitioner_day in ("today-dr-dia", "today-nurse", "tomorrow-dr-dia", "tomorrow-nurse"):
            assert booking_labels(element(page, "tbody", f"glance-{practitioner_day}")), practitioner_day
        counts = {element_id: count_link(page, element_id) for element_id in EVERY_COUNT}
        # The week's bookings add one needing review and one needing attention to the waiting work.
        assert counts == {
            **EVERY_COUNT,
            "glance-needs-review": (3, EVERY_COUNT["glance-needs-review"][1]),
            "glance-needs-attention": (2, EVERY_COUNT["glance-needs-attention"][1]),
        }

    def test_a_login_that_may_view_nothing_gets_no_glance(self, client, django_user_model, week):
        user = django_user_model.objects.create_user(username="bare", is_staff=True)
        page = index_page(client, user)

        assert 'id="day-at-a-glance"' not in page


def test_the_glance_takes_now_explicitly(django_user_model, dr_dia):
    """Callers outside a request (or a test) can ask about any moment."""
    booking = book(dr_dia, sydney(10, 9))
    superuser = django_user_model.objects.create_superuser(username="root")

    glance = day_at_a_glance.day_at_a_glance(user=superuser, now=sydney(10, 0, 5))

    assert [day.date.isoformat() for day in glance.days] == ["2026-12-10", "2026-12-11"]
    assert [b.label for b in glance.days[0].practitioners[0].bookings] == [str(booking)]


class TestMediRecordsUnreachable:
    """While MediRecords fails, the glance says since when, in practice time; then it goes."""

    def test_it_shows_since_when_in_practice_time_while_the_outage_lasts(self, admin_client):
        from bookings.push.outage import medirecords_answer_note, medirecords_failure_note

        # 22:47 in Sydney is 11:47 in UTC: the practice's time is the one shown.
        medirecords_failure_note(now=sydney(1, 22, 47))
        medirecords_failure_note(now=sydney(1, 23, 10))
        page = admin_client.get(reverse("admin:index")).content.decode()

        notice = element(page, "p", "glance-medirecords-unreachable")
        assert notice is not None
        assert "MediRecords unreachable since 22:47 on Tuesday 1 December" in notice

        medirecords_answer_note(now=sydney(1, 23, 20))
        page = admin_client.get(reverse("admin:index")).content.decode()
        assert "glance-medirecords-unreachable" not in page

    def test_a_login_that_sees_no_bookings_is_not_told(self, client, django_user_model):
        from bookings.push.outage import medirecords_failure_note

        medirecords_failure_note(now=sydney(1, 22, 47))
        user = django_user_model.objects.create_user(username="bare", is_staff=True)

        assert "MediRecords unreachable" not in index_page(client, user)


class TestCalendarGaps:
    """Which calendar was deaf (Graph had forgotten its subscription), since when, recovered when."""

    @pytest.fixture
    def gaps(self, dr_dia, nurse):
        return {
            "open": SubscriptionGap.objects.create(
                practitioner=nurse, lost_graph_id="lost-1", deaf_since=sydney(1, 21), detected_at=sydney(1, 23)
            ),
            "recovered": SubscriptionGap.objects.create(
                practitioner=dr_dia,
                lost_graph_id="lost-2",
                deaf_since=sydney(1, 9, 5),
                detected_at=sydney(1, 10),
                recovered_at=sydney(1, 10, 1),
            ),
            "long_ago": SubscriptionGap.objects.create(
                practitioner=dr_dia,
                lost_graph_id="lost-3",
                deaf_since=sydney(1, 0) - timedelta(days=3),
                detected_at=sydney(1, 0) - timedelta(days=3),
                recovered_at=sydney(1, 0) - timedelta(days=3),
            ),
        }

    def test_open_and_recent_gaps_show_with_their_times(self, client, django_user_model, gaps):
        page = index_page(client, staff_login(django_user_model, username="manager", group="Practice manager"))

        section = element(page, "div", "glance-calendar-gaps")
        assert section is not None
        rows = [
            [
                re.sub(r"<[^>]+>", "", cell).strip()
                for cell in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.DOTALL)
            ]
            for row in re.findall(r'<tr class="glance-calendar-gap">(.*?)</tr>', section, re.DOTALL)
        ]
        assert rows == [
            ["Nurse", "Tue 1 Dec 21:00", "not yet"],
            ["Dr Dia", "Tue 1 Dec 09:05", "Tue 1 Dec 10:01"],
        ]
        assert reverse("admin:practitioners_subscriptiongap_change", args=[gaps["open"].pk]) in section

    def test_no_gaps_no_block(self, client, django_user_model, dr_dia):
        page = index_page(client, staff_login(django_user_model, username="manager", group="Practice manager"))

        assert "glance-calendar-gaps" not in page

    def test_a_practitioner_does_not_see_them(self, client, django_user_model, dr_dia, gaps):
        page = index_page(
            client, staff_login(django_user_model, username="dia", group="Practitioner", practitioner=dr_dia)
        )

        assert "glance-calendar-gaps" not in page
