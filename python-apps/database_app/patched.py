# psycogreen entry point: patch the standard library first, then make
# psycopg2 wait through gevent's hub, then load the app.
from gevent import monkey
monkey.patch_all()

from psycogreen.gevent import patch_psycopg  # noqa: E402
patch_psycopg()

from app import app  # noqa: E402,F401  (re-export)
