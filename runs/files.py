"""Files of runs: response bodies kept by ``save_as_file``, uploaded by ``files`` later in a chain.

The bytes live in Django's default storage (under MEDIA_ROOT), a RunFile
row says whose they are. Bytes are written before the transaction that adds
their row and removed again when it does not commit, so a rolled-back
decision leaves no file behind; a deleted row removes its bytes once its
deletion commits (runs/models.py).
"""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .models import Run, RunFile, run_file_path

# A chain longer than this is surely a loop of previous_run links.
MAX_CHAIN = 1000


def available_files(run):
    """{name: RunFile} a request of ``run`` may upload: its own files, then those of each earlier run of its
    chain (following previous_run); the nearest run's file wins a name."""
    found = {}
    run_id, seen = run.pk, set()
    while run_id is not None and run_id not in seen and len(seen) < MAX_CHAIN:
        seen.add(run_id)
        for stored in RunFile.objects.filter(run_id=run_id):
            found.setdefault(stored.name, stored)
        run_id = Run.objects.filter(pk=run_id).values_list("previous_run_id", flat=True).first()
    return found


def store(run_id, kept):
    """Write a kept file's bytes to storage; returns the unsaved RunFile that says whose they are."""
    path = default_storage.save(run_file_path(run_id, kept.name), ContentFile(kept.data))
    return RunFile(run_id=run_id, name=kept.name, content_type=kept.content_type[:255], size=len(kept.data),
                   file=path)


def discard(rows):
    """Remove the stored bytes of RunFile rows that were not saved."""
    for row in rows:
        default_storage.delete(row.file.name)
