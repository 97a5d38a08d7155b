# The tutorial's Flask app: one route that calls the slow API and echoes it.
import os
import socket
import time

import requests
from flask import Flask, request

api_url = f"http://{os.environ.get('API_HOST', 'slow_api')}:{os.environ['PORT_API']}/"

app = Flask(__name__)
# Not the tutorial's: which app answered, so a load balanced over several shows where it went.
served_by = f"{socket.gethostname()}:{os.environ['PORT_APP']}"
# Not the tutorial's: CPU each request burns in the handler (APP_CPU_MS), as real handlers compute.
cpu_seconds = float(os.environ.get('APP_CPU_MS') or 0) / 1000


def burn_cpu():
    # This thread's own CPU time, not the clock's: waiting for the GIL or a core doesn't count.
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


@app.after_request
def mark(response):
    response.headers['X-Served-By'] = served_by
    return response


@app.route('/')
def index():
    delay = float(request.args.get('delay') or 1)
    if cpu_seconds:
        burn_cpu()
    resp = requests.get(f'{api_url}?delay={delay}')
    return 'Hi there! ' + resp.text
