"""The API's filters: a value a filter cannot read is a 400 naming the parameter, never ignored.

django-filter reads a boolean through NullBooleanField, for which ``maybe``
means "no filter": ``?archived=maybe`` then listed every integration as if
unfiltered. Here a boolean is true/false (or 1/0, True/False) and nothing else.
"""

import django_filters
from django import forms
from django.db import models

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


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet whose model booleans are strict (the backend answers a form's faults as a 400)."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
    }


class IntegrationFilter(StrictFilterSet):
    class Meta:
        model = Integration
        fields = ["archived", "slug"]


class ActionFilter(StrictFilterSet):
    class Meta:
        model = Action
        fields = ["integration", "slug"]
