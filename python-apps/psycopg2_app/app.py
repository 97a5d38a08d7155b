# The tutorial's bonus app: half of the delay in the slow API, half in
# PostgreSQL's pg_sleep. psycopg2 blocks the gevent hub unless patched.
from gevent import monkey
monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402

import psycopg2  # noqa: E402
import requests  # noqa: E402
from flask import Flask, request  # noqa: E402

api_url = f"http://{os.environ.get('API_HOST', 'slow_api')}:{os.environ['PORT_API']}/"
db = dict(user='example', password='example', dbname='example',
          host=os.environ.get('POSTGRES_HOST', 'postgres'),
          port=int(os.environ.get('POSTGRES_PORT', '5432')))

app = Flask(__name__)
# Not the tutorial's: which app answered, so a load balanced over several shows where it went.
served_by = f"{socket.gethostname()}:{os.environ['PORT_APP']}"


@app.after_request
def mark(response):
    response.headers['X-Served-By'] = served_by
    return response


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
