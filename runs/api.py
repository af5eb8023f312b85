"""REST API of runs: start, list, read, exchanges, refire, cancel (viewsets registered on the site's router)."""


def register(router):
    pass
