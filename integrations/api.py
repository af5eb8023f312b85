"""REST API of the definitions: integrations and actions (viewsets registered on the site's router)."""

from django.conf import settings
from django.db.models import Prefetch, ProtectedError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from integrations_site.conditional import ConditionalMixin
from runs.api import InOrder
from integrations_site.idempotency import idempotent

from .api_errors import Conflict, TooLarge, error_response, fault
from .filters import ActionFilter, IntegrationFilter
from .manifests import ManifestRefused, import_manifest
from .models import Action, Integration, Secret
from .permissions import CanImportIntegrations, ChangePermissions, IntegrationPermissions
from .serializers import (
    ActionSerializer,
    IntegrationDocumentSerializer,
    IntegrationSerializer,
    JSONValueField,
    KnownFieldsOnly,
)
from .transfer import SLUG_EXISTS, ImportRefused, export_integration, import_integration, too_large


def refuse_large_body(request):
    """Refuse an import whose body says it is larger than one import may be, before it is read and parsed."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > settings.INTEGRATIONS_IMPORT_MAX_BYTES:
        raise TooLarge(too_large("The request body", int(length)))


def refused(exc):
    """An ImportRefused as the API's error: 409 when the only fault is an existing slug (import with
    replace=true), 400 naming every fault otherwise."""
    errors = exc.errors
    if set(errors) == {"slug"} and all(getattr(message, "code", None) == SLUG_EXISTS for message in errors["slug"]):
        return Conflict(errors)
    return serializers.ValidationError(errors)


class SlugConflicts:
    """A create or change refused only because its slug is taken answers 409, code ``slug_exists``, as an
    import without replace does: the body is well formed, the refusal is about what exists. With other
    faults it stays one of the 400's faults."""

    UNIQUE = {"unique", "unique_together"}

    def handle_exception(self, exc):
        if isinstance(exc, serializers.ValidationError) and isinstance(exc.detail, dict):
            faults = [message for messages in exc.detail.values() if isinstance(messages, list)
                      for message in messages]
            if set(exc.detail) <= {"slug", api_settings.NON_FIELD_ERRORS_KEY} and faults and all(
                    getattr(message, "code", None) in self.UNIQUE for message in faults):
                exc = Conflict({"slug": [fault(message, SLUG_EXISTS) for message in faults]})
        return super().handle_exception(exc)


def slug_taken(what):
    return error_response(
        f"{what} has this slug: choose another (nothing was saved).",
        ("Slug exists", SLUG_EXISTS, f"{what.split(' (')[0]} with this slug already exists.", "slug"),
    )


TOO_LARGE = error_response(
    "Larger than one import may be (INTEGRATIONS_IMPORT_MAX_BYTES).",
    ("Too large", "too_large",
     "The request body is 2,500,000 bytes; one import takes at most 1,048,576 (INTEGRATIONS_IMPORT_MAX_BYTES)."),
)
SLUG_TAKEN = error_response(
    "An integration has the document's slug: import with replace=true to replace it.",
    ("Slug exists", SLUG_EXISTS, "An integration with the slug 'jobs' exists: import with replace to replace it "
                                 "(its actions become the document's, its secrets are kept).", "slug"),
)


@extend_schema_field({"type": "object", "required": ["execute"], "properties": {
    "execute": {"type": "array", "minItems": 1, "items": {"type": "object"}}}})
class ManifestField(JSONValueField):
    """A manifest: a JSON object with its ``execute`` requests (null, a list or a text is no manifest)."""


class ManifestImportSerializer(KnownFieldsOnly, serializers.Serializer):
    """A ChiefOnboarding manifest to import, with the integration's name and its secrets' values."""

    name = serializers.CharField(max_length=200, help_text="The integration's name.")
    slug = serializers.SlugField(required=False, allow_blank=True, help_text="Blank: made from the name.")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False, default=dict,
        help_text="The values of the manifest's initial_data_form entries, by id (write-only).",
    )
    manifest = ManifestField(help_text="The manifest: {\"execute\": [...], \"headers\": {...}, ...}.")


class ImportOptions(serializers.Serializer):
    replace = serializers.BooleanField(
        default=False, help_text="Replace the integration with the document's slug, if there is one."
    )


@extend_schema_view(
    list=extend_schema(summary="List integrations"),
    create=extend_schema(summary="Create an integration",
                         responses={201: IntegrationSerializer, 409: slug_taken("An integration")}),
    retrieve=extend_schema(summary="Read an integration"),
    update=extend_schema(summary="Replace an integration's fields (write-only values absent are kept)",
                         responses={200: IntegrationSerializer, 409: slug_taken("Another integration")}),
    partial_update=extend_schema(summary="Change some of an integration's fields",
                                 responses={200: IntegrationSerializer, 409: slug_taken("Another integration")}),
)
class IntegrationViewSet(
    SlugConflicts,
    ConditionalMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Integrations: archived and unarchived, never deleted (as in the admin). Secrets are write-only."""

    # Only the secrets' names are read for a list: their values stay encrypted in the database.
    queryset = Integration.objects.prefetch_related(
        Prefetch("secrets", queryset=Secret.objects.only("id", "integration", "name"))
    )
    serializer_class = IntegrationSerializer
    permission_classes = [IntegrationPermissions]
    pagination_class = InOrder
    filterset_class = IntegrationFilter
    operation_ids = {
        "list": "listIntegrations", "create": "createIntegration", "retrieve": "getIntegration",
        "update": "replaceIntegration", "partial_update": "updateIntegration", "archive": "archiveIntegration",
        "unarchive": "unarchiveIntegration", "export": "exportIntegration", "import_document": "importIntegration",
        "import_chiefonboarding_manifest": "importManifest",
    }

    create = idempotent(mixins.CreateModelMixin.create)

    @extend_schema(summary="Archive an integration: its actions cannot be run", request=None)
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    @idempotent
    def archive(self, request, pk=None):
        return self._set_archived(True)

    @extend_schema(summary="Unarchive an integration", request=None)
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    @idempotent
    def unarchive(self, request, pk=None):
        return self._set_archived(False)

    def _set_archived(self, archived):
        integration = self.get_object()
        if Integration.objects.filter(pk=integration.pk).set_archived(archived):
            integration.refresh_from_db()
        return Response(self.get_serializer(integration).data)

    @extend_schema(
        summary="Export an integration with its actions (no secret values)",
        responses=IntegrationDocumentSerializer,
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        return Response(export_integration(self.get_object()))

    @extend_schema(
        summary="Import an integration with its actions",
        description="Checks everything before writing anything and answers every fault at once, actions' "
        "faults under actions.<slug>. An integration whose slug exists is refused unless replace=true: then "
        "its fields and actions become the document's (actions matched by slug) and its secrets are kept.",
        request=IntegrationDocumentSerializer,
        parameters=[ImportOptions],
        responses={
            201: OpenApiResponse(IntegrationSerializer, description="Imported as a new integration."),
            200: OpenApiResponse(IntegrationSerializer, description="Replaced the integration with this slug."),
            409: SLUG_TAKEN,
            413: TOO_LARGE,
        },
    )
    @action(
        detail=False, methods=["post"], url_path="import", url_name="import",
        permission_classes=[CanImportIntegrations],
    )
    @idempotent
    def import_document(self, request):
        refuse_large_body(request)
        options = ImportOptions(data=request.query_params)
        options.is_valid(raise_exception=True)
        try:
            integration, created = import_integration(request.data, replace=options.validated_data["replace"])
        except ImportRefused as exc:
            raise refused(exc) from None
        return self.imported(integration, created)

    @extend_schema(
        summary="Import a ChiefOnboarding manifest",
        description="Its execute list becomes a chain of actions of one integration (its revoke list a second "
        "chain); initial_data_form values become secrets, store_data response mappings, other placeholders "
        "the chain's variables. A manifest that uses something this product cannot express is refused with "
        "every such part named under manifest; the converted definition is then checked like an import.",
        request=ManifestImportSerializer,
        parameters=[ImportOptions],
        responses={
            201: OpenApiResponse(IntegrationSerializer, description="Imported as a new integration."),
            200: OpenApiResponse(IntegrationSerializer, description="Replaced the integration with this slug."),
            409: SLUG_TAKEN,
            413: TOO_LARGE,
        },
    )
    @action(
        detail=False, methods=["post"], url_path="import-manifest", url_name="import-manifest",
        permission_classes=[CanImportIntegrations],
    )
    @idempotent
    def import_chiefonboarding_manifest(self, request):
        refuse_large_body(request)
        options = ImportOptions(data=request.query_params)
        options.is_valid(raise_exception=True)
        given = ManifestImportSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            integration, created = import_manifest(replace=options.validated_data["replace"], **given.validated_data)
        except ManifestRefused as exc:
            raise serializers.ValidationError(
                {"manifest": [fault(message, "manifest_unsupported") for message in exc.faults]}
            ) from None
        except ImportRefused as exc:
            raise refused(exc) from None
        return self.imported(integration, created)

    def imported(self, integration, created):
        """The answer to an import: the integration, 201 when it is new, 200 when it replaced one."""
        return Response(
            self.get_serializer(integration).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema_view(
    list=extend_schema(summary="List actions"),
    create=extend_schema(summary="Create an action with its rows",
                         responses={201: ActionSerializer, 409: slug_taken("An action of the integration")}),
    retrieve=extend_schema(summary="Read an action with its rows"),
    update=extend_schema(summary="Replace an action; rows given replace all of their kind",
                         responses={200: ActionSerializer, 409: slug_taken("Another action of the integration")}),
    partial_update=extend_schema(summary="Change some of an action's fields; rows given replace all of their kind",
                                 responses={200: ActionSerializer,
                                            409: slug_taken("Another action of the integration")}),
    destroy=extend_schema(
        summary="Delete an action that has no runs",
        responses={
            204: None,
            409: error_response("The action has runs: it is kept.",
                                ("Has runs", "action_has_runs", "This action has runs and cannot be deleted.")),
        },
    ),
)
class ActionViewSet(SlugConflicts, ConditionalMixin, viewsets.ModelViewSet):
    """Actions, each with its inputs, stop conditions, continue-if conditions and response mappings."""

    queryset = Action.objects.select_related("integration").prefetch_related(
        "inputs", "stop_conditions", "continue_conditions", "mappings"
    )
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    pagination_class = InOrder
    operation_ids = {
        "list": "listActions", "create": "createAction", "retrieve": "getAction", "update": "replaceAction",
        "partial_update": "updateAction", "destroy": "deleteAction",
    }

    create = idempotent(mixins.CreateModelMixin.create)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            # Runs keep their action (as in the admin): the log must stay readable.
            raise Conflict(
                "This action has runs and cannot be deleted; archive its integration to stop it being run.",
                code="action_has_runs",
            ) from None


def register(router):
    router.register("integrations", IntegrationViewSet)
    router.register("actions", ActionViewSet)
