"""Facts about patients and bookings that several flows state, each worked out in one place."""

import unicodedata


def normalised_name(name: str | None) -> str:
    """A name as compared: accents removed (NFKD), case folded, spaces trimmed and collapsed."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    without_accents = "".join(character for character in decomposed if not unicodedata.combining(character))
    return " ".join(without_accents.casefold().split())
