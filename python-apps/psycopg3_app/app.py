# The tutorial's bonus app as a new app would write it in 2026: psycopg 3,
# which waits through gevent's hub by itself once the standard library is
# patched (from 3.1.14 on), so no psycogreen and no second entry point.
from gevent import monkey
monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402

import psycopg  # noqa: E402
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
    # One connection per request, closed by the with, as the psycopg2 app does.
    with psycopg.connect(**db) as conn:
        resp = requests.get(f'{api_url}?delay={delay / 2}')
        row = conn.execute('SELECT NOW(), pg_sleep(%s)', (delay / 2,)).fetchone()
        return 'Hi there! {} {}'.format(resp.text, row)
