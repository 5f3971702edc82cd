"""A minimal `multipart/form-data` reader for document uploads.

The body is split on the boundary by hand so that file bytes come back exactly as sent; the
`email` package only parses each part's headers (quoting and RFC 2231 file names included).
"""

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP


class MultipartError(ValueError):
    """The body is not a well-formed multipart/form-data body."""


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse(content_type: str, body: bytes) -> list[Part]:
    """The parts of `body`, given the request's Content-Type header."""
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        raise MultipartError("must be multipart/form-data")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("the multipart boundary is missing")

    delimiter = b"\r\n--" + boundary.encode("latin-1")
    # The first delimiter may open the body without the CRLF that precedes every other one.
    sections = (b"\r\n" + body).split(delimiter)
    parts: list[Part] = []
    for section in sections[1:]:
        if section.startswith(b"--"):
            return parts
        _, newline, rest = section.partition(b"\r\n")
        headers, separator, data = rest.partition(b"\r\n\r\n")
        if not newline or not separator:
            raise MultipartError("a part has no header block")
        parts.append(_part(headers, data))
    raise MultipartError("the closing boundary is missing")


def _part(headers: bytes, data: bytes) -> Part:
    message = BytesHeaderParser(policy=HTTP).parsebytes(headers + b"\r\n\r\n")
    name = message.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise MultipartError("a part has no name")
    content_type = message.get_content_type() if "content-type" in message else None
    return Part(name=name, filename=message.get_filename(), content_type=content_type, data=data)
