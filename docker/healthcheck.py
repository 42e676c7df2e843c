"""The image's health check: the server answers its API's version where it serves.

Alone (make up) the lab serves at /; under a hub it serves under the prefix the spawner gives it
(JUPYTERHUB_SERVICE_PREFIX, e.g. /user/alice/) and on the port in JUPYTERHUB_SERVICE_URL.
"""

import os
import sys
import urllib.parse
import urllib.request

service_url = urllib.parse.urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
port = service_url.port or os.environ.get("LAB_PORT", "8888")
prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
if not prefix.endswith("/"):
    prefix += "/"
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}{prefix}api", timeout=2)
except OSError as problem:
    sys.exit(f"healthcheck: http://127.0.0.1:{port}{prefix}api does not answer: {problem}")
