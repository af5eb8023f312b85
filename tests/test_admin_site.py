"""The admin site: its name, the plumbing only superusers see, and API tokens staff make for themselves."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from rest_framework.authtoken.models import Token

QUEUE_PAGES = ["django_q_schedule", "django_q_success", "django_q_failure", pytest.param(
    "django_q_ormq", marks=pytest.mark.skipif(
        bool(settings.REDIS_URL), reason="django-q2 shows its ORM queue only with the ORM broker (REDIS_URL is set)"))]


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", password="root-password-123")


@pytest.fixture
def staff_granted_everything(admin_user):
    """An Integrations Admin who was also granted every permission on django-q2's and the tokens' models."""
    admin_user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["django_q", "authtoken"])
    )
    return User.objects.get(pk=admin_user.pk)  # fresh: no cached permissions


def test_the_site_is_called_integrations(client, admin_user):
    client.force_login(admin_user)

    html = client.get(reverse("admin:index")).content.decode()

    assert '<div id="site-name"><a href="/admin/">Integrations</a></div>' in html
    assert "<title>Overview | Integrations</title>" in html
    assert "Django administration" not in html and "Django site admin" not in html


@pytest.mark.parametrize("page", QUEUE_PAGES)
def test_staff_never_see_the_task_queue_even_when_granted(client, staff_granted_everything, page):
    client.force_login(staff_granted_everything)

    index = client.get(reverse("admin:index")).content.decode()
    response = client.get(reverse(f"admin:{page}_changelist"))

    assert reverse(f"admin:{page}_changelist") not in index
    assert "Django Q" not in index
    assert response.status_code == 403


@pytest.mark.parametrize("page", QUEUE_PAGES)
def test_superusers_see_the_task_queue(client, superuser, page):
    client.force_login(superuser)

    index = client.get(reverse("admin:index")).content.decode()

    assert reverse(f"admin:{page}_changelist") in index
    assert client.get(reverse(f"admin:{page}_changelist")).status_code == 200


def test_staff_see_only_their_own_token(client, admin_user, viewer_user):
    mine = Token.objects.create(user=admin_user)
    theirs = Token.objects.create(user=viewer_user)
    client.force_login(admin_user)

    index = client.get(reverse("admin:index")).content.decode()
    tokens = client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    other = client.get(reverse("admin:authtoken_tokenproxy_change", args=[viewer_user.pk]))

    assert reverse("admin:authtoken_tokenproxy_changelist") in index
    assert mine.key in tokens and theirs.key not in tokens
    assert other.status_code == 302 and Token.objects.filter(pk=theirs.pk).exists()


def test_staff_make_a_token_for_themselves_only(client, viewer_user, admin_user):
    client.force_login(viewer_user)
    url = reverse("admin:authtoken_tokenproxy_add")

    form = client.get(url).content.decode()
    assert 'name="_save"' in form and 'name="_addanother"' not in form and 'name="user"' not in form
    # Naming another user is ignored: the form has no user field for them.
    response = client.post(url, {"user": admin_user.pk, "_save": "Save"})

    assert response.status_code == 302
    assert list(Token.objects.values_list("user__username", flat=True)) == ["bob"]
    assert client.get(url).status_code == 403  # one token each


def test_staff_revoke_their_own_token_but_no_one_elses(client, admin_user, viewer_user):
    Token.objects.create(user=admin_user)
    Token.objects.create(user=viewer_user)
    client.force_login(admin_user)

    client.post(reverse("admin:authtoken_tokenproxy_delete", args=[viewer_user.pk]), {"post": "yes"})
    response = client.post(reverse("admin:authtoken_tokenproxy_delete", args=[admin_user.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert list(Token.objects.values_list("user__username", flat=True)) == ["bob"]


def test_superusers_manage_every_token(client, superuser, admin_user, viewer_user):
    Token.objects.create(user=viewer_user)
    client.force_login(superuser)

    listing = client.get(reverse("admin:authtoken_tokenproxy_changelist")).content.decode()
    response = client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": admin_user.pk, "_save": "Save"})

    assert "bob" in listing
    assert response.status_code == 302
    assert Token.objects.filter(user=admin_user).exists()
