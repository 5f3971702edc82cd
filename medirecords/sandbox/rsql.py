"""The part of RSQL that patient search understands: `field==value` joined by `;` (and) and `,` (or).

`;` binds tighter than `,`, and parentheses group. A value is bare, or quoted with `"` or `'` where a
backslash makes the next character literal. Comparison is exact but case-insensitive, which is what
the API is assumed to do (README assumption 2).
"""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

# Characters that end a bare value or may not appear in one (RSQL reserved characters).
_RESERVED = frozenset("\"'();,=!~<>")


class RsqlError(ValueError):
    """The expression cannot be parsed or uses something the sandbox does not support."""


@dataclass(frozen=True)
class Comparison:
    field: str
    value: str


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]


Node = Comparison | And | Or


def parse(text: str, fields: Collection[str]) -> Node:
    """Parses `text`, allowing comparisons on `fields` only."""
    parser = _Parser(text, fields)
    node = parser.or_expression()
    parser.skip_spaces()
    if not parser.at_end():
        raise RsqlError(f"unexpected {parser.peek()!r} at position {parser.position}")
    return node


def matches(node: Node, record: Mapping[str, Any]) -> bool:
    if isinstance(node, Comparison):
        actual = record.get(node.field)
        return isinstance(actual, str) and actual.casefold() == node.value.casefold()
    combine: Callable[[Any], bool] = all if isinstance(node, And) else any
    return combine(matches(operand, record) for operand in node.operands)


class _Parser:
    """Recursive descent over the expression text, one character at a time."""

    def __init__(self, text: str, fields: Collection[str]) -> None:
        self.text = text
        self.fields = fields
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def peek(self) -> str:
        return "" if self.at_end() else self.text[self.position]

    def skip_spaces(self) -> None:
        while not self.at_end() and self.text[self.position].isspace():
            self.position += 1

    def or_expression(self) -> Node:
        operands = [self.and_expression()]
        while self._accept(","):
            operands.append(self.and_expression())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expression(self) -> Node:
        operands = [self.primary()]
        while self._accept(";"):
            operands.append(self.primary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def primary(self) -> Node:
        if self._accept("("):
            node = self.or_expression()
            if not self._accept(")"):
                raise RsqlError(f"expected ')' at position {self.position}")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        self.skip_spaces()
        start = self.position
        while not self.at_end() and (self.peek().isalnum() or self.peek() in "_."):
            self.position += 1
        field = self.text[start : self.position]
        if not field:
            raise RsqlError(f"expected a field name at position {start}")
        if field not in self.fields:
            raise RsqlError(f"unknown field {field!r}; searchable: {', '.join(self.fields)}")
        self.skip_spaces()
        operator = self._operator()
        if operator != "==":
            raise RsqlError(f"unsupported operator {operator!r}; only == is supported")
        self.skip_spaces()
        return Comparison(field, self._value())

    def _operator(self) -> str:
        start = self.position
        if self.text.startswith(("==", "!=", "<=", ">="), start):
            self.position += 2
        elif self.peek() in ("<", ">"):
            self.position += 1
        elif self.peek() == "=":
            # =in=, =out=, =like= and friends.
            end = self.text.find("=", start + 1)
            if end == -1:
                raise RsqlError(f"malformed operator at position {start}")
            self.position = end + 1
        else:
            raise RsqlError(f"expected a comparison operator at position {start}")
        return self.text[start : self.position]

    def _value(self) -> str:
        quote = self.peek()
        if quote in ('"', "'"):
            return self._quoted(quote)
        start = self.position
        while not self.at_end() and self.peek() not in _RESERVED and not self.peek().isspace():
            self.position += 1
        if self.position == start:
            raise RsqlError(f"expected a value at position {start}")
        return self.text[start : self.position]

    def _quoted(self, quote: str) -> str:
        start = self.position
        self.position += 1
        characters: list[str] = []
        while not self.at_end():
            character = self.text[self.position]
            self.position += 1
            if character == "\\":
                if self.at_end():
                    break
                characters.append(self.text[self.position])
                self.position += 1
            elif character == quote:
                return "".join(characters)
            else:
                characters.append(character)
        raise RsqlError(f"unterminated quoted value starting at position {start}")

    def _accept(self, character: str) -> bool:
        self.skip_spaces()
        if self.peek() == character:
            self.position += 1
            return True
        return False
