"""gunicorn settings for the receiver (`gunicorn -c python:receiver.gunicorn_conf`)."""

import multiprocessing
import os

bind = os.environ.get("WABAHOOK_BIND", "127.0.0.1:8080")
# Sync workers: one short request at a time each, the load balancer buffers slow
# clients. Each worker opens its own PostgreSQL pool after the fork.
worker_class = "sync"
workers = int(os.environ.get("WABAHOOK_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Well under 360dialog's 5 s: a stuck worker is replaced before the sender gives up.
timeout = 10
graceful_timeout = 10
keepalive = 2
# Request line and headers: generous for webhooks, bounded against abuse.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = None  # the app logs one structured line per request
errorlog = "-"
# gunicorn >= 27 opens a control socket in $HOME by default; several receivers on
# one host (or a read-only home) would trip over it, and nothing here uses it.
control_socket_disable = True
