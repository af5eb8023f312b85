"""Indexes for the runs list and a run's Actions log, which must stay fast with a long history.

The new indexes lead with the run, the action and the integration, so they
replace those foreign keys' own indexes: one index fewer for every exchange
written, and for every run written back after a poll (an update that changes
an indexed column writes a new entry in each of the table's indexes). The old
indexes are dropped by name rather than by altering the fields, which would
copy both tables on SQLite and check every foreign key again on PostgreSQL.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_index(table, name, column):
    return migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")')


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0008_first_request_and_polling_help'),
        ('runs', '0003_idempotency_keys'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='exchange',
            index=models.Index(fields=['run', '-id'], name='exchange_run_log_idx'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(fields=['-created_at', '-id'], name='run_list_idx'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(fields=['integration', '-created_at', '-id'], name='run_integration_list_idx'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(fields=['action', '-created_at', '-id'], name='run_action_list_idx'),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                drop_index('runs_exchange', 'runs_exchange_run_id_e0228501', 'run_id'),
                drop_index('runs_run', 'runs_run_action_id_4c31eacb', 'action_id'),
                drop_index('runs_run', 'runs_run_integration_id_596afab7', 'integration_id'),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='exchange',
                    name='run',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='exchanges', to='runs.run'),
                ),
                migrations.AlterField(
                    model_name='run',
                    name='action',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='runs', to='integrations.action'),
                ),
                migrations.AlterField(
                    model_name='run',
                    name='integration',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='runs', to='integrations.integration'),
                ),
            ],
        ),
    ]
