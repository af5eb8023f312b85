import pytest
from django.contrib.auth.models import Group, User

from integrations.models import Action, Integration


@pytest.fixture
def integration(db):
    return Integration.objects.create(name="Acme", slug="acme", base_url="https://api.acme.test/v1")


@pytest.fixture
def action(integration):
    return Action.objects.create(integration=integration, name="Create ticket", url="/tickets", method="POST")


@pytest.fixture
def admin_user(db):
    """A staff member of the Integrations Admin group (not a superuser)."""
    user = User.objects.create_user("alice", password="alice-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Admin"))
    return user


@pytest.fixture
def viewer_user(db):
    """A staff member of the Integrations Viewer group."""
    user = User.objects.create_user("bob", password="bob-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Viewer"))
    return user
