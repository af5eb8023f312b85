"""The API's filters: a value a filter cannot read is a 400 naming the parameter, never ignored.

An empty value (``?status=``, ``?archived=``) is a 400 too (code ``blank``): the schema says what each
parameter takes, and "" is none of it; leave the parameter out for no filter. An id that names nothing
(``?integration=999``) is a well-formed integer, as the schema says, and filters to nothing: an empty list.

django-filter reads a boolean through NullBooleanField, for which ``maybe``
means "no filter": ``?archived=maybe`` then listed every integration as if
unfiltered. Here a boolean is true/false (or 1/0, True/False) and nothing else.
"""

import django_filters
from django import forms
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from django_filters.rest_framework import DjangoFilterBackend

from .models import Action, Integration

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class StrictBooleanField(forms.Field):
    default_error_messages = {"invalid": "Give true or false."}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


BIGGEST_ID = 2**63 - 1  # a bigger one names nothing (and SQLite cannot even compare it)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    """A foreign key by its id: an integer, or a 400; an id that names nothing gives nothing."""

    field_class = forms.IntegerField

    def filter(self, qs, value):
        if value is not None and abs(value) > BIGGEST_ID:
            return qs.none()
        return super().filter(qs, value)


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet whose model booleans are strict, whose foreign keys are ids, and where an empty value is
    refused (the backend answers a form's faults as a 400)."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.ForeignKey: {"filter_class": IdFilter},
    }

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if name in self.data and any(str(value).strip() == "" for value in values):
                self.form.add_error(name, forms.ValidationError(
                    "Empty: give a value, or leave the parameter out for no filter.", code="blank"))
        return valid and not self.form.errors


class FilterBackend(DjangoFilterBackend):
    """The API's filter backend: the FilterSets it makes from ``filterset_fields`` are strict too."""

    filterset_base = StrictFilterSet


class IntegrationFilter(StrictFilterSet):
    class Meta:
        model = Integration
        fields = ["archived", "slug"]


class ActionFilter(StrictFilterSet):
    class Meta:
        model = Action
        fields = ["integration", "slug"]
