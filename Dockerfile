# convlens in a container: uvicorn on 0.0.0.0:8000 as a non-root user, inputs stored in /data.
#   docker build -t convlens .            (ARG BASE picks another base image with python3 + venv)
#   docker run -p 127.0.0.1:8000:8000 -v convlens-data:/data convlens
# Requests are answered only for the Host names in CONVLENS_ALLOWED_HOSTS (DNS rebinding): loopback names
# by default, which is how the published port above is reached; add -e CONVLENS_ALLOWED_HOSTS=name,...
# for a host name or a proxy in front.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CONVLENS_HOST=0.0.0.0 CONVLENS_PORT=8000 CONVLENS_WORKERS=1 CONVLENS_DATA_DIR=/data \
    CONVLENS_ALLOWED_HOSTS="127.0.0.1,localhost,[::1]" \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies first, so code edits do not reinstall them. The optional build secret "pipcert" is a CA
# bundle for pip on networks that need one; it is mounted only for this step and never stored.
COPY pyproject.toml README.md ./
COPY app/__init__.py app/__init__.py
RUN --mount=type=secret,id=pipcert \
    python3 -m venv /opt/venv \
    && if [ -f /run/secrets/pipcert ]; then export PIP_CERT=/run/secrets/pipcert; fi \
    && pip install --no-cache-dir --quiet -e . \
    && useradd --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin convlens \
    && mkdir -p /data && chown convlens /data

COPY app ./app
COPY static ./static
COPY templates ./templates

USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; port = os.environ.get('CONVLENS_PORT', '8000'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"]
CMD ["sh", "-c", "exec convlens serve --host \"$CONVLENS_HOST\" --port \"$CONVLENS_PORT\" --workers \"$CONVLENS_WORKERS\""]
