# The tutorial's Flask app: one route that calls the slow API and echoes it.
import os
import socket

import requests
from flask import Flask, request

api_url = f"http://{os.environ.get('API_HOST', 'slow_api')}:{os.environ['PORT_API']}/"

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
    resp = requests.get(f'{api_url}?delay={delay}')
    return 'Hi there! ' + resp.text
