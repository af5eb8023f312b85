from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integrations.manifests import ManifestRefused, import_manifest
from integrations.transfer import ImportRefused, read_import_file


class Command(BaseCommand):
    help = (
        "Import a ChiefOnboarding integration manifest from FILE: its execute list becomes a chain of actions "
        "(its revoke list a second chain) of one integration. The values of its initial_data_form are secrets: "
        "give each with --secret ID=value. A manifest that uses something this product cannot express is "
        "refused, naming each part; nothing is written unless everything is right."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--name", help="The integration's name (default: the file's name).")
        parser.add_argument("--slug", default="", help="The integration's slug (default: made from the name).")
        parser.add_argument("--secret", action="append", default=[], metavar="ID=VALUE",
                            help="The value of an initial_data_form entry (repeat for each).")
        parser.add_argument("--replace", action="store_true",
                            help="Replace the integration with this slug, if there is one (its secrets are kept).")

    def handle(self, *args, file, name, slug, secret, replace, **options):
        secrets = {}
        for item in secret:
            key, equals, value = item.partition("=")
            if not equals or not key:
                raise CommandError(f"--secret {item!r}: write ID=value.")
            secrets[key] = value
        try:
            manifest = read_import_file(file)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        name = name or Path(file).stem.replace("_", " ").replace("-", " ").strip().capitalize() or "Manifest"
        try:
            integration, created = import_manifest(manifest, name=name, slug=slug, secrets=secrets, replace=replace)
        except (ManifestRefused, ImportRefused) as exc:
            raise CommandError(f"Nothing was imported from {file}:\n  " + "\n  ".join(str(exc).splitlines())) from None
        actions = list(integration.actions.order_by("slug").values_list("slug", flat=True))
        self.stdout.write(
            f"{'Imported' if created else 'Replaced'} integration {integration.slug!r} with the chain "
            f"{' -> '.join(slug for slug in actions if slug.startswith('step-'))}"
            + (f" and the revoke chain {' -> '.join(s for s in actions if s.startswith('revoke-'))}"
               if any(s.startswith("revoke-") for s in actions) else "")
            + "."
        )
