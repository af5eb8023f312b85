"""XML responses as JSON, with xmltodict (entities are refused, so no entity expansion)."""

from xml.parsers.expat import ExpatError

import xmltodict

from integrations import safejson


class NotXML(ValueError):
    pass


def xml_to_json(text):
    try:
        value = xmltodict.parse(text, disable_entities=True)
    except ExpatError as exc:
        raise NotXML(f"The response is not valid XML: {exc}.") from None
    except ValueError as exc:  # raised for entity declarations
        raise NotXML(f"The response XML was refused: {exc}.") from None
    try:
        # xmltodict nests without recursion; paths, the log and the pages would not.
        safejson.check(value, text_faults=False)
    except safejson.Fault as fault:
        raise NotXML(f"The response XML was refused: {fault}") from None
    return value
