"""REST API of webhooks: subscriptions (/api/webhooks/, the secret in the create and rotate answers only)
and their deliveries (/api/webhook-deliveries/, with Redeliver). Permissions follow the admin's, as for
definitions: reading needs the model's view permission, writing its add/change/delete permission."""

from django.core.validators import RegexValidator, URLValidator
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations_site.conditional import ConditionalMixin
from integrations_site.idempotency import idempotent

from integrations import api_errors
from integrations.models import Action, Integration
from integrations.openapi import AutoSchema
from integrations.parsers import JSONParser
from integrations.permissions import ChangePermissions
from integrations.serializers import KnownFieldsOnly
from runs.api import InOrder
from runs.events import Event

from .delivery import redeliver
from .models import Delivery, Subscription, new_secret, validate_events


BEING_SENT = "This delivery is being sent right now."


class SubscriptionSerializer(KnownFieldsOnly, serializers.ModelSerializer):
    """A webhook subscription: where the events go, which events, and for which integrations or actions."""

    events = serializers.MultipleChoiceField(choices=Event.choices, allow_empty=False,
                                             help_text="The events sent to the URL.")
    integrations = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Integration.objects.all(), help_text="Only runs of these (none: all).")
    actions = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Action.objects.all(), help_text="Only runs of these (none: all).")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Subscription
        fields = ["id", "name", "url", "events", "integrations", "actions", "enabled", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]
        # The model's http(s) rule as a pattern, so that the schema says it (Django's URL check stays).
        extra_kwargs = {"url": {"validators": [
            RegexValidator(r"^[hH][tT][tT][pP][sS]?://", "The URL must start with http:// or https://."),
            URLValidator(schemes=["http", "https"])]}}

    def validate_events(self, value):
        events = sorted(value)
        validate_events(events)
        return events

    def to_representation(self, subscription):
        data = super().to_representation(subscription)
        data["events"] = sorted(data["events"])
        return data


class NewSubscriptionSerializer(SubscriptionSerializer):
    """A subscription just made (or whose secret was rotated), with its signing secret: shown this once."""

    secret = serializers.CharField(read_only=True, help_text="whsec_...: verify signatures with it. Shown once.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = [*SubscriptionSerializer.Meta.read_only_fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    """One event of one run for one subscription, and what its attempts got back."""

    class Meta:
        model = Delivery
        fields = ["id", "subscription", "run", "event", "webhook_id", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_answer", "last_error", "created_at", "last_attempt_at", "delivered_at",
                  "payload"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List webhook subscriptions",
                       responses={200: SubscriptionSerializer(many=True)}),
    create=extend_schema(summary="Subscribe a URL to run events", responses={201: NewSubscriptionSerializer},
                         description="The answer holds the signing secret (`whsec_...`): the only time it is shown."),
    retrieve=extend_schema(summary="Read a webhook subscription"),
    update=extend_schema(summary="Replace a webhook subscription"),
    partial_update=extend_schema(summary="Change some of a webhook subscription's fields"),
    destroy=extend_schema(summary="Delete a webhook subscription and its deliveries"),
)
class SubscriptionViewSet(ConditionalMixin, viewsets.ModelViewSet):
    """Webhook subscriptions."""

    queryset = Subscription.objects.select_related("created_by").prefetch_related("integrations", "actions")
    serializer_class = SubscriptionSerializer
    parser_classes = [JSONParser]
    pagination_class = InOrder
    filterset_fields = ["enabled"]
    schema = AutoSchema()
    operation_ids = {
        "list": "listWebhooks", "create": "createWebhook", "retrieve": "getWebhook", "update": "replaceWebhook",
        "partial_update": "updateWebhook", "destroy": "deleteWebhook", "rotate_secret": "rotateWebhookSecret",
    }

    @idempotent
    def create(self, request, *args, **kwargs):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        subscription = given.save(created_by=request.user)
        return Response(NewSubscriptionSerializer(subscription, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(summary="Give a webhook subscription a new signing secret", request=None,
                   responses={200: NewSubscriptionSerializer},
                   description="The old secret stops working at once; the answer shows the new one, this once.")
    @action(detail=True, methods=["post"], url_path="rotate-secret", permission_classes=[ChangePermissions])
    @idempotent
    def rotate_secret(self, request, pk=None):
        subscription = self.get_object()
        subscription.secret = new_secret()
        subscription.save(update_fields=["secret"])
        return Response(NewSubscriptionSerializer(subscription, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(summary="List webhook deliveries, oldest first",
                       description="Filtered by subscription, run, event and status.",
                       responses={200: DeliverySerializer(many=True)}),
    retrieve=extend_schema(summary="Read a webhook delivery"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Webhook deliveries: each event of each run for each subscription."""

    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    parser_classes = [JSONParser]
    pagination_class = InOrder
    filterset_fields = ["subscription", "run", "status", "event"]
    schema = AutoSchema()
    operation_ids = {"list": "listWebhookDeliveries", "retrieve": "getWebhookDelivery", "redeliver": "redeliverWebhook"}

    @extend_schema(
        summary="Send a webhook delivery again now", request=None,
        responses={202: DeliverySerializer,
                   409: api_errors.error_response("It is being sent right now.", ("Being sent", "being_sent", BEING_SENT))},
        description="Same webhook-id and payload: a receiver that has it already dedups it. A delivery given up "
                    "starts a new retry window.",
    )
    @action(detail=True, methods=["post"], permission_classes=[ChangePermissions])
    @idempotent
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        if not redeliver(delivery):
            raise api_errors.Conflict(BEING_SENT, code="being_sent")
        delivery.refresh_from_db()
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def register(router):
    router.register("webhooks", SubscriptionViewSet, basename="webhook")
    router.register("webhook-deliveries", DeliveryViewSet, basename="webhook-delivery")
