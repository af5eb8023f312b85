import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' if there is none (password from ADMIN_PASSWORD, else generated and printed)."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user '{username}' exists; its password is unchanged.")
            return
        password = os.environ.get("ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(f"Created admin user '{username}' with password: {password}"))
        else:
            self.stdout.write(f"Created admin user '{username}' with the password from ADMIN_PASSWORD.")
