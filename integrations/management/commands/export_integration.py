import json

from django.core.management.base import BaseCommand, CommandError

from integrations.models import Integration
from integrations.transfer import export_integration


class Command(BaseCommand):
    help = (
        "Write the integration SLUG with its actions as one JSON document (the API's shape), to standard output "
        "or --output FILE. Secret values, the authentication secret and client certificates are left out; the "
        "secrets' names are kept in secrets_set."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", metavar="FILE", help="Write the document to FILE.")

    def handle(self, *args, slug, output, **options):
        try:
            integration = Integration.objects.get(slug=slug)
        except Integration.DoesNotExist:
            raise CommandError(f"No integration has the slug {slug!r}.") from None
        text = json.dumps(export_integration(integration), indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
            self.stderr.write(f"Exported {integration.slug!r} with {integration.actions.count()} actions to {output}.")
        else:
            self.stdout.write(text, ending="")
