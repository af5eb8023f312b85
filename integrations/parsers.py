"""The API's JSON parser: DRF's, refusing text that Python reads but nothing can store or send back."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser (which already refuses NaN and Infinity), refusing lone surrogates too.

    json reads "\\ud800" as a string no UTF-8 encoder can write: PostgreSQL
    refuses it, and an error message quoting it could not even be answered.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _has_lone_surrogate(data):
            raise ParseError("JSON parse error - a \\uD800-\\uDFFF escape that is not half of a pair is not text.")
        return data


def _has_lone_surrogate(value):
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(key) or _has_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False
