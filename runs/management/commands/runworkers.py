import signal
import threading

from django.core.management.base import BaseCommand
from django.db import connections
from django_q.cluster import Cluster

from runs import heartbeats
from runs.dispatch import beat_forever, dispatch_forever
from runs.retention import retain_forever


class Command(BaseCommand):
    help = "Run the django-q2 cluster and the dispatcher that queues due polls, until SIGINT/SIGTERM."

    def handle(self, *args, **options):
        # An identity for this process and the workers it starts: the leases they take name it, and its
        # heartbeat tells other clusters it is alive. Set before the cluster forks, so workers inherit it.
        heartbeats.become_holder()
        connections.close_all()  # the cluster forks; children must not share this connection
        cluster = Cluster()
        cluster.start()
        stop = threading.Event()

        def shut_down(signum, frame):
            stop.set()

        signal.signal(signal.SIGINT, shut_down)
        signal.signal(signal.SIGTERM, shut_down)
        self.stdout.write("Workers and dispatcher running.")
        beating = threading.Event()
        threading.Thread(target=beat_forever, args=(beating,), name="heartbeat", daemon=True).start()
        threading.Thread(target=retain_forever, args=(stop,), name="retention", daemon=True).start()
        dispatcher = threading.Thread(target=dispatch_forever, args=(stop,), name="dispatcher", daemon=True)
        dispatcher.start()
        while not stop.wait(0.5):
            if not cluster.sentinel.is_alive():
                self.stderr.write("The cluster stopped; stopping the dispatcher.")
                stop.set()
        dispatcher.join(timeout=5)
        # Workers finish the requests they have in flight before they exit; the heartbeat goes on
        # meanwhile, so no other cluster takes those runs over.
        cluster.stop()
        beating.set()
        heartbeats.retire()
        self.stdout.write("Stopped.")
