"""DRF's browsable API under the site's Content-Security-Policy."""

from csp.constants import UNSAFE_INLINE
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """The browsable API, with inline styles allowed on its pages only.

    DRF's own templates lay out their buttons with style attributes (and a
    <style> element when Pygments is installed). Styles cannot run code, and
    scripts stay limited to this site's files, so stored text is as harmless here
    as on any other page; the site-wide policy stays without inline styles.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src": [UNSAFE_INLINE]}  # added to the site-wide 'self'
        return super().render(data, accepted_media_type, renderer_context)
