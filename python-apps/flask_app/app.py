# The tutorial's Flask app: one route that calls the slow API and echoes it.
import os

import requests
from flask import Flask, request

api_url = f"http://{os.environ.get('API_HOST', 'slow_api')}:{os.environ['PORT_API']}/"

app = Flask(__name__)


@app.route('/')
def index():
    delay = float(request.args.get('delay') or 1)
    resp = requests.get(f'{api_url}?delay={delay}')
    return 'Hi there! ' + resp.text
