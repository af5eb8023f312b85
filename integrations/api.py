"""REST API of the definitions: integrations and actions (viewsets registered on the site's router)."""


def register(router):
    pass
