"""The API's JSON parser: DRF's, refusing what Python reads but nothing can store, send back or walk."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from . import safejson


class JSONParser(parsers.JSONParser):
    """Parse with safejson's limits: NaN, 1e999, NUL, lone surrogates and nesting past MAX_DEPTH are refused.

    Each is a 400 naming its place as DRF names a field's faults (answered with
    ``"attr": "variables.note"``, rows by their index), since the parser knows
    where it found the fault and the serializer never sees it; text that is not
    JSON at all is DRF's usual parse error (code ``parse_error``).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            return safejson.loads(text)
        except safejson.Fault as fault:
            if not fault.path:
                raise ParseError(f"JSON parse error - {fault}") from None
            raise ValidationError(field_errors(fault.path, fault.message)) from None


def field_errors(path, message):
    """``message`` at ``path`` in the shape of DRF's errors: objects' keys as keys, lists' indices as places."""
    errors = [message]
    for part in reversed(path):
        if isinstance(part, int):
            errors = [{}] * part + [errors]
        else:
            errors = {part: errors}
    return errors
