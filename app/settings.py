"""Every limit and server knob in one place.

Each field can be overridden by an environment variable named ``CONVLENS_<FIELD>`` in upper case,
e.g. ``CONVLENS_MAX_MACS=1e10``. Limits exist so that a stranger's request is refused *before* it
allocates memory or holds a worker; the error message names the limit and its environment variable.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "convlens"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # BLAS (and engine) threads per worker. 0 means "cores // workers" (at least 1): several workers
    # that each use every core oversubscribe the CPU and make every request slower.
    blas_threads: int = 0
    cors_origins: str = ""  # comma-separated; empty means CORS is off

    data_dir: Path = field(default_factory=_default_data_dir)
    store_quota_bytes: int = 512 * 2**20
    # store (issue 14 §4): an input used (uploaded, read) in the last store_grace_s is never evicted;
    # the store's usage count is recounted from the disk at most every store_rescan_s
    store_grace_s: int = 120
    store_rescan_s: int = 300

    max_request_bytes: int = 32 * 2**20
    max_upload_bytes: int = 20 * 2**20
    max_image_pixels: int = 4096 * 4096
    max_channels: int = 1024
    max_height: int = 4096
    max_width: int = 4096
    max_input_elements: int = 16 * 2**20
    max_kernel: int = 64
    max_weight_count: int = 4 * 2**20
    max_output_elements: int = 32 * 2**20
    max_macs: int = 4 * 10**9
    max_trace_positions: int = 4096
    max_trace_values: int = 2_000_000  # positions × (C_in/groups · kH · kW) products returned
    im2col_chunk_bytes: int = 16 * 2**20  # cap on a band's temporary (app.engine.conv.band_rows sizes them)
    engine_buffer_bytes: int = 64 * 2**20  # freed temporaries kept per process for reuse (app.engine.buffers); 0: none
    # cost lab (helper "cost"): /api/cost, /api/measure, /api/measure/compare
    measure_budget_s: int = 5  # wall time one measure request may spend, warm-up included, checked before each layer
    max_measure_macs: int = 60 * 10**9  # MACs of the designs × (warm-up + repeats), refused before running
    max_measure_bytes: int = 1 * 2**30  # estimated peak memory of a measurement (weights, activations, temporaries)
    max_design_layers: int = 512  # layers of one design, counted in every branch, on the raw JSON
    max_design_depth: int = 8  # nesting of concat/add branches
    # --- networks: ONNX upload and the /network page (issue 13, helper "net") ---
    max_model_bytes: int = 64 * 2**20  # an .onnx upload (resnet18 is 45 MiB); the request cap lets this route through
    max_model_nodes: int = 10_000  # ResNet-50 has ~180 after BN folding
    max_model_params: int = 64 * 2**20  # weight values of one model, counted from declared shapes before decoding
    max_model_macs: int = 20 * 10**9  # MACs of one forward pass at the chosen input size
    max_model_activation_bytes: int = 512 * 2**20  # every activation of one forward pass, all kept at once
    model_store_quota_bytes: int = 1024 * 2**20  # uploaded models on disk, LRU-evicted

    # hardening (issue 14): HTTP framing, JSON parse cost, response size, admission, security defaults
    max_header_bytes: int = 16 * 2**10  # request line + headers; over it → 431 (h11 stops reading there)
    max_header_count: int = 100  # header fields per request; over it → 431
    header_timeout_s: int = 5  # a request's line and headers must arrive within this, or 408 and close
    body_timeout_s: int = 10  # longest pause while a body is being sent, or 408 and close
    max_json_bytes: int = 8 * 2**20  # JSON bodies (uploads and models have their own limits)
    max_json_depth: int = 32  # nesting of arrays and objects, checked before the body is parsed
    max_json_keys: int = 100_000  # object keys in one body, checked before parsing
    max_json_values: int = 1_000_000  # array elements + object values in one body, checked before parsing
    max_response_bytes: int = 256 * 2**20  # estimated response body, checked before encoding
    max_list_values: int = 2 * 2**20  # numbers sent with encoding "list" (each a Python object: ~80 B)
    max_heavy_requests: int = 2  # computations of heavy_macs or more running at once per worker; others queue
    heavy_macs: int = 2 * 10**8  # from this many MACs a computation needs a heavy slot (~0.1 s here)
    heavy_queue_s: int = 5  # how long a request waits for a slot before 503 + Retry-After
    max_engine_requests: int = 16  # POSTs under heavy_prefixes in flight per worker, whatever their cost
    heavy_prefixes: str = ("/api/convolve,/api/trace,/api/pointwise,/api/measure,/api/network,/api/models,"
                           "/api/transposed")  # POSTs under these paths may run the engine
    allowed_hosts: str = "127.0.0.1,localhost,[::1],testserver"  # Host header names; "*" allows any
    rate_limit_per_s: int = 0  # requests per second per client address; 0 = off
    rate_limit_burst: int = 20  # requests a client may send at once before the rate applies

    # deploy (issue 17, helper "deploy"): graceful restarts behind a proxy or Kubernetes
    drain_s: int = 0  # after SIGTERM: /readyz is 503 but requests are still taken for this long (0: stop at once)
    shutdown_timeout_s: int = 5  # then requests in flight get at most this long to finish before the worker exits
    metrics: int = 0  # 1: GET /metrics (Prometheus text) for the cluster's scraper; keep it off the public proxy

    def env_name(self, name: str) -> str:
        return f"CONVLENS_{name.upper()}"

    @property
    def compute_threads(self) -> int:
        """Threads per worker for BLAS and the engine's bands: the setting, or the cores shared out
        among workers so they never oversubscribe the CPU (which made requests several times slower
        in a trial)."""
        return self.blas_threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))


def _coerce(raw: str, kind: type):
    if kind is int:
        return int(float(raw))  # accepts "4e9"
    if kind is Path:
        return Path(raw).expanduser()
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    overrides = {}
    hints = {"int": int, "str": str, "Path": Path}
    for f in dataclasses.fields(Settings):
        raw = os.environ.get(f"CONVLENS_{f.name.upper()}")
        if raw is not None:
            overrides[f.name] = _coerce(raw, hints[str(f.type)])
    return Settings(**overrides)
