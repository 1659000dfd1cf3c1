"""The FastAPI application: routers, static files, error handlers and middleware, assembled once."""
from __future__ import annotations


from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from app import __version__
from app.api import convolve, cost, inputs, pages, pointwise
from app.api import receptive, transposed  # issue 15
from app.api.errors import install_error_handlers
from app.api.middleware import install_middleware
from app.api.static import CachedStaticFiles
from app.engine import buffers
from app.inputs.store import InputStore
from app.api import network
from app.api import probes  # issue 17
from app import lifecycle, metrics  # issue 17
from app.models.store import ModelStore
from app.paths import STATIC
from app.settings import Settings, get_settings

DESCRIPTION = """Run real convolutions with NumPy and get every number back.

* Inputs: built-in samples (`/api/samples`), seeded random tensors, or uploads (`POST /api/inputs`), referred
  to by id; named weights (`/api/presets`).
* `POST /api/convolve`: one layer (stride, padding, dilation, groups, bias, flip, ReLU); every output
  channel, the weights used and the cost. MACs count multiply-accumulates; FLOPs = 2·MACs.
* `POST /api/trace`: the products and partial sums behind chosen output values.
* `POST /api/layer/check`: output shape, cost and the formulas with a layer's numbers, without running it.
* `/api/pointwise/*`: a 1×1 layer as a matrix product, NiN stacks, FC as a convolution, C vs H,W.
* `/api/cost`, `/api/measure`, `/api/architectures`, `/api/comparisons`: designs counted and timed; papers'
  networks as data; the cost lab's preset pairs.
* `/api/models`: the built-in digits CNN or an uploaded ONNX file; its cost table, a forward run, activations.
* `/api/transposed`: a transposed convolution, its output and each value read as a scatter and as a gather.
* `POST /api/receptive`: the receptive field of every layer of a network, for one input point.
* `/healthz`, `/livez`, `/readyz`: for load balancers and orchestrators.

Errors are `{"error": {"code", "message"}}` with a 4xx status; limits are named in the message.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    threadpool_limits(limits=s.compute_threads, user_api="blas")
    buffers.keep_at_most(s.engine_buffer_bytes)
    # /docs and /redoc are pages of our own (app/api/pages.py): FastAPI's load their scripts from a CDN
    # with an inline script, which the CSP blocks and an offline machine cannot reach.
    app = FastAPI(title="convlens", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifecycle.lifespan_for(s.drain_s))
    app.state.settings = s
    app.state.store = InputStore(s.data_dir / "inputs", s.store_quota_bytes, s.store_grace_s, s.store_rescan_s)
    app.state.models = ModelStore(s.data_dir / "models", s.model_store_quota_bytes)  # issue 13
    install_error_handlers(app)
    app.include_router(inputs.router)
    app.include_router(convolve.router)
    app.include_router(pointwise.router)
    app.include_router(cost.router)
    app.include_router(transposed.router)
    app.include_router(receptive.router)
    app.include_router(network.router)
    app.include_router(pages.router)
    app.include_router(probes.router)
    if s.metrics:
        app.include_router(probes.metrics_router)

    @app.get("/healthz", tags=["meta"])
    def healthz():
        return {"status": "ok", "version": __version__}

    app.mount("/static", CachedStaticFiles(directory=STATIC), name="static")
    install_middleware(app, s)
    app.add_middleware(lifecycle.CloseWhileDraining)  # outermost: every answer while draining closes, refusals too
    if s.metrics:
        app.add_middleware(metrics.RequestMetrics)  # outermost: refusals are counted with their status
    return app
