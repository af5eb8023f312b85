from django.core.management.base import BaseCommand, CommandError

from integrations.transfer import ImportRefused, import_integration, read_import_file


class Command(BaseCommand):
    help = (
        "Import an integration with its actions from FILE, a document written by export_integration or the API. "
        "Everything is checked before anything is written, and every fault is reported. An integration whose "
        "slug exists is refused unless --replace: then its fields and actions become the document's and its "
        "secrets are kept. Secrets listed in secrets_set that are not stored need a value in \"secrets\"."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--replace", action="store_true", help="Replace the integration with the document's slug, if there is one."
        )

    def handle(self, *args, file, replace, **options):
        try:
            document = read_import_file(file)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            integration, created = import_integration(document, replace=replace)
        except ImportRefused as exc:
            raise CommandError(f"Nothing was imported from {file}:\n  " + "\n  ".join(str(exc).splitlines())) from None
        count = integration.actions.count()
        self.stdout.write(
            f"{'Imported' if created else 'Replaced'} integration {integration.slug!r} with {count} "
            f"action{'' if count == 1 else 's'}."
        )
