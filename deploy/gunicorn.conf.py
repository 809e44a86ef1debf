"""Production gunicorn settings.

Usage: gunicorn -c deploy/gunicorn.conf.py 'receiver:create_app()'
"""

from receiver.gunicorn_conf import *  # noqa: F403  (one source of truth, also used by `wabahook serve`)
