"""A run's file as a download, for the admin and the API alike: never shown inline, never sniffed.

A kept file is whatever a remote service answered: served inline, HTML or
SVG would run in this site's origin. It is always an attachment, with
``nosniff`` and a sandboxing Content-Security-Policy, and a type a browser
could render as a page is served as application/octet-stream.
"""

from django.http import FileResponse

# Declared types a browser may treat as a document or script, whatever the disposition says.
ACTIVE_TYPES = ("html", "xml", "svg", "javascript", "ecmascript", "xsl")


def safe_content_type(declared):
    kind = (declared or "").split(";")[0].strip().lower()
    if not kind or "/" not in kind or any(word in kind for word in ACTIVE_TYPES):
        return "application/octet-stream"
    return kind


def file_response(run_file):
    """A FileResponse that downloads ``run_file`` under its name."""
    response = FileResponse(run_file.file.open("rb"), as_attachment=True, filename=run_file.name,
                            content_type=safe_content_type(run_file.content_type))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
