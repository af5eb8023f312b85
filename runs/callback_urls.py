"""Callback URLs are capabilities: whoever holds one can decide its run, so only those who may change runs
see them.

A run's callback token opens its callback endpoint with no other credential,
and a callback can end the run as succeeded and send its chain on. So the
token is shown only to users with runs.change_run (Integrations Admins, who
may decide runs anyway). For everyone else it is replaced by ``***`` wherever
the run's own record could hold it: the callback URL itself, and the text a
request that carried ``{{ run.callback_url }}`` (or "include context") left in
the log, in fields stored from answers, in reasons and variables. The stored
rows keep the token; only what is shown is masked.
"""

MASK = "***"
PERMISSION = "runs.change_run"


def may_see(user):
    """Whether ``user`` may see callback URLs: those who may change runs."""
    return user is not None and user.has_perm(PERMISSION)


def hide(value, token):
    """``value`` (text, or JSON-like: dicts, lists, strings) with ``token`` replaced by ***, keys included."""
    if not token:
        return value
    if isinstance(value, str):
        return value.replace(token, MASK)
    if isinstance(value, dict):
        return {hide(key, token): hide(item, token) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [hide(item, token) for item in value]
    return value


# Text fields of a run and of an exchange that may quote what was sent or received.
RUN_TEXT = ("reason", "variables", "fields")
EXCHANGE_TEXT = ("url", "request_headers", "request_body", "response_headers", "response_body", "error", "decision")


def hide_in(instance, token, names):
    """Mask ``token`` in the ``names`` attributes of a model instance loaded for display (never saved after).

    Attributes deferred by the query are left alone: what is not loaded is not shown.
    """
    loaded = instance.__dict__
    for name in names:
        if name in loaded:
            loaded[name] = hide(loaded[name], token)
    return instance
