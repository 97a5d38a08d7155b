# gevent.pywsgi entry point. The patch comes first: the tutorial's companion
# code imported the app before patching, leaving `requests` blocking.
from gevent import monkey
monkey.patch_all()

import os  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from app import app  # noqa: E402

http_server = WSGIServer((os.environ.get('HOST', '0.0.0.0'), int(os.environ['PORT_APP'])), app,
                         log=None)
http_server.serve_forever()
