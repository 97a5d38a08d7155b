# Entry point for gevent workers (Gunicorn -k gevent, uWSGI --gevent):
# patch the standard library before anything else is imported.
from gevent import monkey
monkey.patch_all()

from app import app  # noqa: E402,F401  (re-export)
