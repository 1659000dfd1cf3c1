"""Probes for a proxy or an orchestrator (issue 17): liveness and readiness on separate endpoints.

* ``/livez``: the process answers (``/healthz`` is the same, kept for the image's HEALTHCHECK). A draining
  replica stays live: it must not be restarted, only sent no new work.
* ``/metrics``: Prometheus text, only with ``CONVLENS_METRICS=1`` (app/metrics.py).
* ``/readyz``: this worker takes new requests: 503 from the moment it got SIGTERM (app/lifecycle.py), or
  when the store's directory cannot be written (a shared volume that went away).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app import __version__
from app.api.errors import error_body
from app import metrics
from app.inputs.store import counted_bytes
from app.lifecycle import STATE

router = APIRouter(tags=["meta"])
metrics_router = APIRouter(tags=["meta"])  # included only with CONVLENS_METRICS=1 (app/main.py)


@router.get("/livez")
def livez():
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
def readyz(request: Request):
    if STATE.draining:
        return JSONResponse(error_body("draining", "this replica is shutting down (SIGTERM): it finishes the "
                                       "requests it has and takes no new ones; send them to another replica"),
                            status_code=503)
    problem = request.app.state.store.unwritable()
    if problem:
        return JSONResponse(error_body("store_unavailable", problem), status_code=503)
    return {"status": "ready", "version": __version__}


@metrics_router.get("/metrics", include_in_schema=False)
def prometheus(request: Request):
    body, kind = metrics.render(lambda: counted_bytes(request.app.state.store.root))
    return Response(body, media_type=kind)
