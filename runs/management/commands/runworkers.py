import os
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections
from django_q.cluster import Cluster

from runs import heartbeats, lifecycle, metrics
from runs.dispatch import beat_forever, dispatch_forever
from runs.outages import describe
from runs.retention import retain_forever
from webhooks.delivery import deliver_forever


class Command(BaseCommand):
    help = ("Run the django-q2 cluster and the dispatcher that queues due polls, until SIGTERM or SIGINT "
            "(to this process or its whole group): in-flight requests finish within INTEGRATIONS_STOP_GRACE "
            "seconds, then everything exits.")

    def handle(self, *args, **options):
        # An identity for this process and the workers it starts: the leases they take name it, and its
        # heartbeat tells other clusters it is alive. Set before the cluster forks, so workers inherit it.
        heartbeats.become_holder()
        lifecycle.prepare()
        metrics.prepare()
        stop = threading.Event()
        connections.close_all()  # the cluster forks; children must not share this connection
        cluster = Cluster()  # django-q2 sets its own signal handlers here; ours replace them below

        def shut_down(signum, frame):
            stop.set()

        signal.signal(signal.SIGINT, shut_down)
        signal.signal(signal.SIGTERM, shut_down)
        beating = threading.Event()
        dispatcher = threading.Thread(target=dispatch_forever, args=(stop,), name="dispatcher", daemon=True)
        try:
            cluster.start()
            # Threads that use the database start after the fork, so that no child inherits their connections.
            threading.Thread(target=beat_forever, args=(beating,), name="heartbeat", daemon=True).start()
            threading.Thread(target=retain_forever, args=(stop,), name="retention", daemon=True).start()
            threading.Thread(target=deliver_forever, args=(stop,), name="webhooks", daemon=True).start()
            if not stop.is_set():
                dispatcher.start()
                self.stdout.write("Workers and dispatcher running.")
            while not stop.wait(0.5):
                if not cluster.sentinel.is_alive():
                    self.stderr.write("The cluster stopped; stopping the dispatcher.")
                    stop.set()
        finally:
            # Also when something above failed: a sentinel left running would keep this process from ever
            # exiting (multiprocessing joins it at exit).
            stop.set()
            grace = settings.INTEGRATIONS_STOP_GRACE
            deadline = lifecycle.begin_stop(grace)
            self.stdout.write(f"Stopping: requests in flight have {grace:g} s to finish.")
            if dispatcher.is_alive():
                dispatcher.join(timeout=max(deadline - time.monotonic(), 0))
            # The heartbeat goes on while the workers finish what they have in flight, so that no other
            # cluster takes those runs over meanwhile.
            self._stop_cluster(cluster, deadline)
            beating.set()
            try:
                close_old_connections()
                heartbeats.retire()
            except Exception as exc:  # the database is down: others take our runs once the heartbeat is stale
                self.stderr.write(f"Could not remove the heartbeat ({describe(exc)}).")
            self.stdout.write("Stopped.")

    def _stop_cluster(self, cluster, deadline):
        """Tell the sentinel to stop its processes, and kill them if they are not gone by ``deadline``."""
        sentinel = cluster.sentinel
        if sentinel is None or not sentinel.is_alive():
            return
        if cluster.stop_event is None:  # start() failed before it made the event
            os.kill(sentinel.pid, signal.SIGKILL)
            sentinel.join(timeout=5)
            return
        # Event.set() takes a lock the sentinel may hold, or have died holding: never block on it.
        threading.Thread(target=cluster.stop_event.set, name="stop-cluster", daemon=True).start()
        sentinel.join(timeout=max(deadline - time.monotonic(), 0))
        if sentinel.is_alive():
            self.stderr.write(f"The workers did not stop within {settings.INTEGRATIONS_STOP_GRACE:g} s; "
                              "killing them (runs still in flight are taken over as interrupted).")
            os.kill(sentinel.pid, signal.SIGKILL)  # its children die with it (lifecycle)
            sentinel.join(timeout=5)
