# What the database app's two drivers share: where the slow API and
# PostgreSQL are, the Flask app and its X-Served-By mark. Imported by an entry
# module after it has monkey-patched the standard library.
import os
import socket

from flask import Flask

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
