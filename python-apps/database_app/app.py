# The tutorial's bonus app: half of the delay in the slow API, half in
# PostgreSQL's pg_sleep. psycopg2 blocks the gevent hub unless patched
# (patched.py: psycogreen).
from gevent import monkey
monkey.patch_all()

import psycopg2  # noqa: E402
import requests  # noqa: E402
from flask import request  # noqa: E402

from common import api_url, app, db  # noqa: E402


@app.route('/')
def index():
    delay = float(request.args.get('delay') or 1)
    # The tutorial never closed its connections; under load that exhausts
    # max_connections, so each request closes its own.
    conn = psycopg2.connect(**db)
    try:
        resp = requests.get(f'{api_url}?delay={delay / 2}')
        cur = conn.cursor()
        cur.execute('SELECT NOW(), pg_sleep(%s)', (delay / 2,))
        return 'Hi there! {} {}'.format(resp.text, cur.fetchall()[0])
    finally:
        conn.close()
