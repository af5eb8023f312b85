"""Helpers for admin tests: form data for inline rows, and the errors a page shows."""


def inline_rows(prefix, *rows, **defaults):
    """POST data for new rows of the inline ``prefix`` (its TOTAL_FORMS included)."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows))}
    for index, row in enumerate(rows):
        values = {"position": str(index), **defaults, **row}
        data.update({f"{prefix}-{index}-{name}": value for name, value in values.items()})
    return data


def stop_condition_rows(*rows):
    """Form data for new rows of the "Stop conditions" inline."""
    return inline_rows("stop_conditions", *rows, operator="equals", outcome="success", target_field="", group="")


def input_rows(*names):
    """Form data for new rows of the "Inputs" inline, one per name."""
    return inline_rows("inputs", *({"name": name} for name in names), required="on", label="", default="", choices="")


def field_errors(response, field):
    return response.context["adminform"].form.errors.get(field, [])


def inline_formset(response, prefix):
    [formset] = [inline.formset for inline in response.context["inline_admin_formsets"]
                 if inline.formset.prefix == prefix]
    return formset


def row_errors(response, prefix, index, field):
    return inline_formset(response, prefix).forms[index].errors.get(field, [])


def stop_condition_errors(response, index, field):
    return row_errors(response, "stop_conditions", index, field)
