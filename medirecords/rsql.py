"""Building RSQL query expressions for `GET /patients/search?q=`.

Every value is quoted, so reserved characters (`;` `,` `(` `)` `=` `!` `~` `<` `>`, spaces and
quotes) inside a name can never change the meaning of the expression. The whole expression is
URL-encoded by the HTTP layer when it is sent as the `q` parameter.
"""

from collections.abc import Mapping


def quote(value: str) -> str:
    """Quote an RSQL argument: double quotes around it, `\\` and `"` escaped with a backslash."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def all_of(comparisons: Mapping[str, str]) -> str:
    """`field==value` for each pair, joined with `;` (AND). Selectors must be plain names."""
    for selector in comparisons:
        if not selector.isidentifier():
            raise ValueError(f"not an RSQL selector: {selector!r}")
    return ";".join(f"{selector}=={quote(value)}" for selector, value in comparisons.items())
