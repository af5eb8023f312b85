"""Create or update the demo integration, which runs jobs on the built-in sandbox service."""

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.conditions import Operator
from integrations.models import (
    Action,
    ActionInput,
    AuthType,
    BodyType,
    Integration,
    MappingSource,
    Method,
    Outcome,
    PollingMode,
    ResponseMapping,
    Secret,
    StopCondition,
)
from sandbox.views import SANDBOX_TOKEN

JSON_PATHS = {"id": "id", "status": "status", "result": "result"}
# xmltodict turns <job><status>…</status></job> into {"job": {"status": …}}.
XML_PATHS = {"id": "job.id", "status": "job.status", "result": "job.result"}


def job_action(name, slug, description, *, body_extra=None, paths=JSON_PATHS, **fields):
    """An action that starts a sandbox job and polls it every second until it ends."""
    body = {"name": "{{ job_name }}", "seconds": "{{ seconds }}", **(body_extra or {})}
    return {
        "slug": slug,
        "fields": {
            "name": name,
            "description": description,
            "method": Method.POST,
            "url": "jobs/",
            "body_type": BodyType.JSON,
            "body": json.dumps(body, indent=2),
            "polling_mode": PollingMode.POLL,
            "poll_method": Method.GET,
            "poll_url": "jobs/{{ job_id }}/",
            "poll_interval": 1,
            "poll_timeout": 120,
            **fields,
        },
        "inputs": [
            {"name": "job_name", "label": "Job name", "default": "demo"},
            {"name": "seconds", "label": "Seconds until done", "default": "5"},
        ],
        "mappings": [
            {"field": "job_id", "path": paths["id"], "source": MappingSource.REQUEST},
            {"field": "result", "path": paths["result"], "source": MappingSource.RESULT},
        ],
        "stop_conditions": [
            {
                "path": paths["status"],
                "operator": Operator.EQUALS,
                "value": "successful",
                "outcome": Outcome.SUCCESS,
                "target_field": "job_status",
            },
            {
                "path": paths["status"],
                "operator": Operator.EQUALS,
                "value": "failed",
                "outcome": Outcome.FAILURE,
                "target_field": "",
            },
        ],
    }


DEMO_ACTIONS = [
    job_action(
        "Run a job",
        "run-job",
        "Starts a job on the sandbox and polls it until it succeeds. Cancelling a run tells the sandbox.",
        cancelable=True,
        cancel_webhook_url="jobs/{{ job_id }}/cancel/",
    ),
    job_action(
        "Run a failing job",
        "run-failing-job",
        "Starts a job that ends as failed: a failure stop condition at work.",
        body_extra={"outcome": "failed"},
    ),
    # A job created with format "xml" answers in XML from its creation on,
    # so the whole conversation goes through "convert XML response to JSON".
    job_action(
        "Run a job, XML status",
        "run-job-xml",
        "Starts a job that answers in XML, converted to JSON before the mappings and conditions read it.",
        body_extra={"format": "xml"},
        paths=XML_PATHS,
        convert_xml=True,
    ),
    job_action(
        "Run a job with callback",
        "run-job-callback",
        "Starts a job that calls this run back halfway and when done; nothing is polled.",
        body_extra={"callback_url": "{{ run.callback_url }}"},
        polling_mode=PollingMode.CALLBACK,
        poll_method="",
        poll_url="",
    ),
]


# A chain: a job runs, its report is downloaded as a file, and the file is uploaded; each step
# starts by itself when the one before succeeds, with every variable and field stored so far.
REPORT_CHAIN = [
    {
        **job_action(
            "Chain 1/3: run a job for its report",
            "chain-run-job",
            "Starts a job and polls it until it succeeds; then the chain downloads its report.",
        ),
        "next": "chain-download-report",
    },
    {
        "slug": "chain-download-report",
        "fields": {
            "name": "Chain 2/3: download the job's report",
            "description": "Keeps the finished job's report (a PNG image) as the file report.png of the run.",
            "method": Method.GET,
            "url": "jobs/{{ job_id }}/report/",
            "save_as_file": "report.png",
        },
        "inputs": [],
        "mappings": [],
        "stop_conditions": [],
        "next": "chain-upload-report",
    },
    {
        "slug": "chain-upload-report",
        "fields": {
            "name": "Chain 3/3: upload the report",
            "description": "Uploads report.png with the job's name; the sandbox answers with its SHA-256, stored as "
            "report_sha256.",
            "method": Method.POST,
            "url": "uploads/",
            "body_type": BodyType.JSON,
            "body": json.dumps({"job": "{{ job_id }}", "name": "{{ job_name }}"}, indent=2),
            "files": {"document": "report.png"},
        },
        "inputs": [],
        "mappings": [
            {"field": "report_sha256", "path": "files.0.sha256", "source": MappingSource.REQUEST},
            {"field": "report_size", "path": "files.0.size", "source": MappingSource.REQUEST},
        ],
        "stop_conditions": [],
    },
]


def save(instance, **values):
    """Set ``values`` on ``instance``, validate it as the admin would, and save it."""
    for name, value in values.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


def check_placeholders(definition):
    """Refuse (and so roll back) a definition whose placeholders name something nothing fills, as the admin does."""
    errors = definition.placeholder_errors()
    if errors:
        raise ValidationError(errors)


def save_rows(action, model, rows, *, key):
    """Make ``action``'s rows of ``model`` exactly ``rows``, matched on ``key`` so that ids are kept."""
    kept = []
    for position, row in enumerate(rows):
        values = {"position": position, **row}
        instance = model.objects.filter(action=action, **{key: values[key]}).first() or model(action=action)
        kept.append(save(instance, **values).pk)
    model.objects.filter(action=action).exclude(pk__in=kept).delete()


class Command(BaseCommand):
    help = "Create or update the demo integration 'Sandbox jobs' (slug sandbox) against the built-in sandbox service."

    @transaction.atomic
    def handle(self, *args, **options):
        base_url = settings.INTEGRATIONS_PUBLIC_URL.rstrip("/") + "/sandbox/"
        integration = Integration.objects.filter(slug="sandbox").first() or Integration(slug="sandbox")
        created = integration.pk is None
        save(
            integration,
            name="Sandbox jobs",
            description="The built-in sandbox service: a remote job API played by this site.",
            base_url=base_url,
            auth_type=AuthType.BEARER,
            auth_secret=SANDBOX_TOKEN,
            archived=False,
        )
        secret = integration.secrets.filter(name="SANDBOX_TOKEN").first() or Secret(integration=integration)
        save(secret, name="SANDBOX_TOKEN", value=SANDBOX_TOKEN)

        saved = {}
        for spec in [*DEMO_ACTIONS, *REPORT_CHAIN]:
            action = integration.actions.filter(slug=spec["slug"]).first() or Action(
                integration=integration, slug=spec["slug"]
            )
            save(action, next_action=None, **spec["fields"])
            save_rows(action, ActionInput, spec["inputs"], key="name")
            # Mappings and conditions have no name of their own: matched by position.
            save_rows(action, ResponseMapping, spec["mappings"], key="position")
            save_rows(action, StopCondition, spec["stop_conditions"], key="position")
            saved[spec["slug"]] = action
        # Linked once every step exists; a step's placeholders may then read what the steps before it store.
        for spec in REPORT_CHAIN:
            if spec.get("next"):
                save(saved[spec["slug"]], next_action=saved[spec["next"]])
        for action in saved.values():
            check_placeholders(action)
        check_placeholders(integration)

        self.stdout.write(
            f"{'Created' if created else 'Updated'} integration {integration.name!r} (slug {integration.slug}) "
            f"at {base_url} with actions: {', '.join(a.slug for a in integration.actions.order_by('slug'))}."
        )
        if not settings.INTEGRATIONS_SANDBOX:
            self.stdout.write(self.style.WARNING("The sandbox is off (INTEGRATIONS_SANDBOX): these actions will fail."))
