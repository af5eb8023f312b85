from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0008_heartbeats_on_one_clock'),
    ]

    operations = [
        migrations.AddField(
            model_name='exchange',
            name='pruned_count',
            field=models.PositiveIntegerField(blank=True, help_text='On a row of kind pruned: the exchanges removed at this place in the log.', null=True),
        ),
        migrations.AlterField(
            model_name='exchange',
            name='kind',
            field=models.CharField(choices=[('request', 'Request'), ('poll', 'Poll'), ('callback', 'Callback received'), ('cancel_webhook', 'Cancel webhook'), ('oauth_token', 'OAuth token'), ('pruned', 'Exchanges pruned')], max_length=20),
        ),
    ]
