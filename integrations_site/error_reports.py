"""What Django's error reports may show."""

from django.views.debug import SafeExceptionReporterFilter


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Hide sensitive POST parameters and variables with DEBUG on as well.

    Django filters them only when DEBUG is off; but a development site still
    holds an integration's real secrets, and its error page is easily shared.
    """

    def is_active(self, request):
        return True
