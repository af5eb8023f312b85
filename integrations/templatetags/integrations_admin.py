"""Template tags of the integrations admin pages."""

from dataclasses import dataclass

from django import template
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.text import capfirst

register = template.Library()


@dataclass(frozen=True)
class ErrorEntry:
    link: str  # an anchor on the page: the field's input, or the inline row or table ("": none)
    where: str
    messages: list


@register.inclusion_tag("admin/integrations/includes/error_summary.html", takes_context=True)
def error_summary(context):
    """Every error of an add or change page, each linking to the field or inline row it is on."""
    entries = []
    adminform = context.get("adminform")
    if adminform is not None:
        form = adminform.form
        fieldset_of = {
            field: name for name, options in adminform.fieldsets if name
            for field in flatten_fieldsets([(name, options)])
        }
        for name, messages in form.errors.items():
            if name == NON_FIELD_ERRORS or name not in form.fields:
                continue  # shown at the top of the form already
            label = capfirst(form[name].label)
            where = f"{fieldset_of[name]} › {label}" if name in fieldset_of else label
            entries.append(ErrorEntry(_field_link(form[name], ""), where, messages))
    for inline in context.get("inline_admin_formsets", []):
        formset = inline.formset
        if formset.non_form_errors():
            plural = capfirst(formset.model._meta.verbose_name_plural)
            entries.append(ErrorEntry(f"#{formset.prefix}-group", plural, formset.non_form_errors()))
        for index, row in enumerate(formset.forms):
            if formset.can_delete and formset._should_delete_form(row):
                continue  # deleted rows are not saved, their errors do not count
            row_link = f"#{formset.prefix}-{index}"
            what = f"{capfirst(inline.opts.verbose_name)} {index + 1}"
            for name, messages in row.errors.items():
                if name == NON_FIELD_ERRORS or name not in row.fields:
                    entries.append(ErrorEntry(row_link, what, messages))
                else:
                    where = f"{what} › {row[name].label}"
                    entries.append(ErrorEntry(_field_link(row[name], row_link), where, messages))
    return {"entries": entries}


def _field_link(bound, fallback):
    """The field's input, where a link can take the reader; ``fallback`` for a hidden one."""
    if bound.is_hidden or not bound.id_for_label:
        return fallback
    return f"#{bound.id_for_label}"
