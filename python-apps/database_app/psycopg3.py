# The tutorial's bonus app as a new app would write it in 2026: psycopg 3,
# which waits through gevent's hub by itself once the standard library is
# patched (from 3.1.14 on): no psycogreen, this module is its entry point.
from gevent import monkey
monkey.patch_all()

import psycopg  # noqa: E402
import requests  # noqa: E402
from flask import request  # noqa: E402

from common import api_url, app, db  # noqa: E402


@app.route('/')
def index():
    delay = float(request.args.get('delay') or 1)
    # One connection per request, closed by the with, as the psycopg2 app does.
    with psycopg.connect(**db) as conn:
        resp = requests.get(f'{api_url}?delay={delay / 2}')
        row = conn.execute('SELECT NOW(), pg_sleep(%s)', (delay / 2,)).fetchone()
        return 'Hi there! {} {}'.format(resp.text, row)
