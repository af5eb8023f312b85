"""Sandbox: a remote job API played by this site (built by the sandbox work)."""

urlpatterns = []
