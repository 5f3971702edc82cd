from urllib.parse import parse_qs, urlencode

import pytest

from medirecords import rsql


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("Citizen", '"Citizen"'),
        ("O'Brien-Nguyễn", '"O\'Brien-Nguyễn"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("Smith;lastName==Jones", '"Smith;lastName==Jones"'),
        ("Smith,Jones", '"Smith,Jones"'),
        ("Van der Berg (Jnr)", '"Van der Berg (Jnr)"'),
    ],
)
def test_values_are_quoted_and_escaped(value, quoted):
    assert rsql.quote(value) == quoted


def test_comparisons_are_joined_with_and():
    expression = rsql.all_of({"firstName": "Jane", "lastName": "O'Brien-Nguyễn", "dob": "1980-02-29"})
    assert expression == 'firstName=="Jane";lastName=="O\'Brien-Nguyễn";dob=="1980-02-29"'


def test_a_reserved_character_cannot_add_a_comparison():
    expression = rsql.all_of({"lastName": 'Smith";dob=="1900-01-01'})
    # One comparison only: the embedded quote is escaped, so the `;` stays inside the value.
    assert expression == 'lastName=="Smith\\";dob==\\"1900-01-01"'


def test_the_expression_survives_url_encoding():
    expression = rsql.all_of({"lastName": "O'Brien-Nguyễn;x,y"})
    encoded = urlencode({"q": expression})
    for reserved in (";", ",", "'"):
        assert reserved not in encoded
    assert parse_qs(encoded)["q"] == [expression]


def test_a_selector_must_be_a_plain_name():
    with pytest.raises(ValueError, match="not an RSQL selector"):
        rsql.all_of({"lastName==x;firstName": "y"})
