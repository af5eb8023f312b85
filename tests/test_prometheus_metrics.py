"""/metrics gives Prometheus what an operator alerts on: runs by status, requests sent and errors by kind
(counted by the cluster's own processes), poll lag, lease take-overs, clusters alive, due runs not sent."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.faults import free_port, wait_until
from tests.servers import reply


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "cluster"))
            samples[(sample.name, labels)] = samples.get((sample.name, labels), 0) + sample.value
    return samples


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_cluster_counts_requests_errors_and_lag_and_the_site_serves_them(client, server):
    server.script("/ok", reply(json={"status": "pending"}))
    server.script("/broken", reply(500, text="boom"))
    polling = dict(method="GET", polling_mode="poll", poll_interval=1, poll_timeout=600, max_consecutive_errors=100,
                   stop=[("status", "equals", "done", "success")])
    ok = make_action(server.base_url, url="/ok", **polling)
    broken = make_action(server.base_url, url="/broken", **polling)
    refused = make_action(f"http://127.0.0.1:{free_port()}", url="/nothing", **polling)
    for action in (ok, broken, refused):
        start_run(action)

    workers = Workers().start()
    try:
        def counted():
            samples = scrape(client)
            errors = {labels: value for (name, labels), value in samples.items()
                      if name == "integrations_request_errors_total"}
            if errors.get((("kind", "status_5xx"),), 0) >= 2 and errors.get((("kind", "connection"),), 0) >= 2:
                return samples
        samples = wait_until(counted, 60, "the cluster's counts never reached /metrics")
    finally:
        workers.stop()

    assert samples[("integrations_clusters_alive", ())] == 1
    # The one that answers polls; the two whose requests fail are still trying their first (poll 1).
    assert samples[("integrations_runs", (("status", "polling"),))] == 1
    assert samples[("integrations_runs", (("status", "running"),))] == 2
    assert samples[("integrations_runs", (("status", "failed"),))] == 0
    sent = {kind: samples[("integrations_requests_sent_total", (("kind", kind),))] for kind in ("request", "poll")}
    assert sent["request"] >= 4 and sent["poll"] >= 1  # a first request is sent again until it is answered
    assert samples[("integrations_request_errors_total", (("kind", "status_4xx"),))] == 0
    assert samples[("integrations_poll_lag_seconds_count", ())] >= 6
    assert samples[("integrations_poll_lag_seconds_bucket", (("le", "+Inf"),))] == samples[
        ("integrations_poll_lag_seconds_count", ())]
    assert ("integrations_lease_takeovers_total", ()) in samples
    assert ("integrations_due_runs_not_sent", ()) in samples


@pytest.mark.django_db
def test_with_a_token_set_metrics_need_it(client, settings):
    settings.INTEGRATIONS_METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    samples = scrape(client, HTTP_AUTHORIZATION="Bearer scrape-me")
    assert samples[("integrations_clusters_alive", ())] == 0


@pytest.mark.django_db
def test_runs_due_and_not_sent_are_counted_with_the_oldest_wait(client, server):
    from datetime import timedelta

    from runs import clock
    from runs.models import Run

    action = make_action(server.base_url)
    late = start_run(action)
    Run.objects.filter(pk=late.pk).update(next_poll_at=clock.now() - timedelta(seconds=90))
    samples = scrape(client)
    assert samples[("integrations_due_runs_not_sent", ())] == 1
    assert 89 < samples[("integrations_oldest_due_run_wait_seconds", ())] < 120
