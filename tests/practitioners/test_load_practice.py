from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from practitioners.models import BookingType, Practitioner, PractitionerKind
from practitioners.services import PracticeFileError, practice_load
from tests.practitioners.factories import PractitionerFactory

pytestmark = pytest.mark.django_db


def snapshot():
    return list(Practitioner.objects.order_by("slug").values())


def test_loads_the_five_practitioners_of_the_practice():
    result = practice_load(environ={})

    assert sorted(result.created) == ["consultant", "doctor-2", "dr-dia", "nurse", "ramona"]
    practitioners = {p.slug: p for p in Practitioner.objects.all()}
    assert practitioners["consultant"].booking_type == BookingType.FREE_INITIAL
    assert practitioners["consultant"].kind == PractitionerKind.CONSULTANT
    for slug in ("dr-dia", "doctor-2"):
        assert practitioners[slug].kind == PractitionerKind.DOCTOR
    assert practitioners["nurse"].kind == PractitionerKind.NURSE_PRACTITIONER
    assert practitioners["ramona"].kind == PractitionerKind.GAPS_COACH
    assert all(practitioners[slug].takes_payment for slug in ("dr-dia", "doctor-2", "nurse", "ramona"))
    assert practitioners["dr-dia"].fee == Decimal("180.00")
    assert list(Practitioner.objects.values_list("slug", flat=True)) == [
        "consultant",
        "dr-dia",
        "doctor-2",
        "nurse",
        "ramona",
    ]


def test_the_command_twice_changes_nothing_the_second_time():
    call_command("load_practice", stdout=StringIO())
    before = snapshot()
    output = StringIO()
    call_command("load_practice", stdout=output)

    assert snapshot() == before
    assert "0 created, 0 updated, 5 unchanged" in output.getvalue()


def test_external_ids_come_from_the_environment_and_are_never_cleared_by_it():
    environ = {"PRACTITIONER_DR_DIA_O365_MAILBOX": "dr.dia@clinic.example.com.au"}
    practice_load(environ=environ)
    dr_dia = Practitioner.objects.get(slug="dr-dia")
    assert dr_dia.o365_mailbox == "dr.dia@clinic.example.com.au"

    # Filled in through admin, then a load without the variable: the admin value stays.
    dr_dia.medirecords_provider_id = "a3f0c1d2-0000-4000-8000-000000000002"
    dr_dia.save()
    result = practice_load(environ={})
    dr_dia.refresh_from_db()
    assert dr_dia.o365_mailbox == "dr.dia@clinic.example.com.au"
    assert dr_dia.medirecords_provider_id == "a3f0c1d2-0000-4000-8000-000000000002"
    assert result.updated == []


def test_an_edited_field_is_put_back_to_the_file_and_others_are_kept():
    practice_load(environ={})
    Practitioner.objects.filter(slug="nurse").update(display_name="Renamed in admin")
    extra = PractitionerFactory(slug="locum")

    result = practice_load(environ={})

    assert result.updated == ["nurse"]
    assert Practitioner.objects.get(slug="nurse").display_name == "Nurse"
    assert result.not_in_file == [extra.slug]
    assert Practitioner.objects.filter(slug="locum").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("version = 2\n", "version must be 1"),
        ("version = 1\n", "no practitioners"),
        ('version = 1\n[[practitioners]]\ndisplay_name = "X"\n', "slug is required"),
        ('version = 1\n[[practitioners]]\nslug = "x"\no365_mailbox = "a@b"\n', "unknown fields"),
        (
            'version = 1\n[[practitioners]]\nslug = "x"\ndisplay_name = "X"\nkind = "surgeon"\nbooking_type = "paid"\n',
            "kind",
        ),
        ("version = [\n", "practice.toml"),
    ],
)
def test_a_bad_practice_file_is_refused_with_a_clear_message_and_changes_nothing(tmp_path, content, message):
    path = tmp_path / "practice.toml"
    path.write_text(content)
    with pytest.raises(PracticeFileError, match=message):
        practice_load(path=path, environ={})
    assert Practitioner.objects.count() == 0

    with pytest.raises(CommandError, match=message):
        call_command("load_practice", "--file", str(path), stdout=StringIO())
