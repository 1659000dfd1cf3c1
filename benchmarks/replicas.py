"""Three convlens replicas behind nginx, sharing one store: the local multi-replica run of issue 17.

    .venv/bin/python benchmarks/replicas.py [--replicas 3] [--clients 32] [--seconds 30] [--containers [IMAGE]]

Starts N replicas (``python -m app``, one worker and one BLAS thread each; with ``unshare`` each runs in
its own UTS namespace under its own host name, so the store sees N hosts), all with one
CONVLENS_DATA_DIR, and nginx in front, run from deploy/nginx.conf with this run's ports (installed from
Debian with apt-get when missing). Then:

1. uploads a tensor through replica 1, reads its id through every other replica and through the proxy,
   and convolves it through the last replica;
2. runs benchmarks/load.py's clients against one replica directly: the one-replica baseline;
3. the same load through the proxy, replica 2 stopped (SIGTERM) a third of the way in and left down;
4. the same load through the proxy during a rolling restart: each replica in turn gets SIGTERM, is
   started again and answers /readyz before the next one goes.

With ``--containers [IMAGE]`` the replicas are podman containers of the image instead (default
localhost/convlens:check, which ``bash scripts/container-check`` builds): read-only root, their own host
names, one host directory bind-mounted as every replica's /data; nginx still runs on the host.

Reports errors, requests/s, p50 and p99 of each load run, prints JSON and writes
benchmarks/results/replicas.json (replicas-containers.json). Traffic goes to 127.0.0.1 only; every run is bounded in time and
stops by itself. Exit status 1 if the upload check or any load run had an error.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import run_load  # noqa: E402

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
REPLICA_ENV = {"CONVLENS_WORKERS": "1", "CONVLENS_BLAS_THREADS": "1",
               "CONVLENS_DRAIN_S": "1", "CONVLENS_SHUTDOWN_TIMEOUT_S": "20"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_unshare() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--uts", "true"], capture_output=True).returncode == 0


class Replica:
    """One `python -m app` process on its own port, optionally under its own host name."""

    def __init__(self, name: str, data_dir: Path, log_dir: Path, own_host: bool, env: dict | None = None):
        self.name, self.port, self.data_dir = name, free_port(), data_dir
        self.log_path = log_dir / f"{name}.log"
        self.own_host, self.env = own_host, env or {}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "app", "--port", str(self.port), "--workers", "1"]
        if self.own_host:  # unshare execs in place: the pid stays the server's, so SIGTERM reaches it
            cmd = ["unshare", "--uts", "sh", "-c", f'hostname {self.name} && exec "$@"', "sh", *cmd]
        env = {**os.environ, **REPLICA_ENV, "CONVLENS_DATA_DIR": str(self.data_dir), **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text(errors='replace')[-1500:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout_s} s")

    def stop(self, timeout_s: float = 60) -> float:
        """SIGTERM, as an orchestrator sends it; returns the seconds until the process exited."""
        t0 = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return time.monotonic() - t0


class ContainerReplica(Replica):
    """The same, as a podman container of the image (``--containers``): read-only root, /tmp a tmpfs, the
    store a bind mount of one host directory shared by every replica, the port published on loopback."""

    def __init__(self, name: str, data_dir: Path, log_dir: Path, image: str, env: dict | None = None):
        super().__init__(name, data_dir, log_dir, False, env)
        self.image, self.container = image, f"convlens-{name}-{os.getpid()}"

    def start(self) -> None:
        if subprocess.run(["podman", "container", "exists", self.container]).returncode == 0:
            return _podman("start", self.container)
        env = {**REPLICA_ENV, "CONVLENS_ALLOWED_HOSTS": "127.0.0.1,localhost", **self.env}
        _podman("run", "-d", "--name", self.container, "--hostname", self.name, "--read-only", "--tmpfs", "/tmp",
                "-v", f"{self.data_dir}:/data", "-p", f"127.0.0.1:{self.port}:8000", "--stop-timeout", "40",
                *[a for k, v in env.items() for a in ("-e", f"{k}={v}")], self.image)

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        logs = subprocess.run(["podman", "logs", self.container], capture_output=True, text=True)
        raise RuntimeError(f"{self.name} not ready within {timeout_s} s: {(logs.stdout + logs.stderr)[-1500:]}")

    def stop(self, timeout_s: float = 60) -> float:
        t0 = time.monotonic()  # podman stop: SIGTERM, then SIGKILL after --stop-timeout (40 s, as in the Deployment)
        subprocess.run(["podman", "stop", self.container], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - t0

    def remove(self) -> None:
        subprocess.run(["podman", "rm", "-f", "-v", self.container], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _podman(*args: str) -> None:
    """A podman command, quiet unless it fails (without systemd here it logs errors about health-check
    timers on every start, which are not failures)."""
    done = subprocess.run(["podman", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"podman {args[0]} failed: {done.stderr[-1500:]}")


def podman_conf(work: Path) -> None:
    """The podman settings scripts/container-check uses on this machine (runc, ulimits it may set)."""
    conf = work / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
                    '[engine]\nruntime = "runc"\n')
    os.environ.setdefault("CONTAINERS_CONF", str(conf))


def nginx_config(ports: list[int], listen: int) -> str:
    """deploy/nginx.conf with this run's replica ports and listening port."""
    text = NGINX_CONF.read_text()
    servers = re.findall(r"^ *server 127\.0\.0\.1:\d+ .*;$", text, re.M)
    line = servers[0]
    text = text.replace("\n".join(servers), "\n".join(re.sub(r":\d+ ", f":{p} ", line) for p in ports))
    return re.sub(r"listen 127\.0\.0\.1:\d+;", f"listen 127.0.0.1:{listen};", text)


@contextlib.contextmanager
def running_nginx(ports: list[int]):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = Path(tempfile.mkdtemp(prefix="convlens-nginx-"))
    prefix.chmod(0o755)  # nginx's workers run as nobody when the master is root
    listen = free_port()
    (prefix / "nginx.conf").write_text(nginx_config(ports, listen))
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{listen}"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/livez", timeout=2)
                break
            time.sleep(0.1)
        yield url, prefix
    finally:
        proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(prefix, ignore_errors=True)


def upload_check(replicas: list[Replica], proxy: str) -> dict:
    """Upload through the first replica, read through every other one and the proxy, convolve through the last."""
    arr = np.random.default_rng(17).standard_normal((3, 24, 24)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, arr)
    up = httpx.post(f"{replicas[0].url}/api/inputs", files={"file": ("x.npy", buf.getvalue())}, timeout=30)
    assert up.status_code == 201, up.text
    input_id = up.json()["id"]
    seen = {}
    for where in [r.url for r in replicas[1:]] + [proxy]:
        r = httpx.get(f"{where}/api/inputs/{input_id}", timeout=30)
        seen[where] = r.status_code
        assert r.status_code == 200 and r.json()["shape"] == [3, 24, 24], r.text
    conv = httpx.post(f"{replicas[-1].url}/api/convolve", timeout=30, json={
        "input": {"kind": "upload", "id": input_id}, "layer": {"out_channels": 2, "kernel_size": 3},
        "weights": {"kind": "random", "seed": 1}, "encoding": "list"})
    assert conv.status_code == 200 and conv.json()["output_shape"] == [2, 22, 22], conv.text
    return {"id": input_id, "uploaded_via": replicas[0].name, "read_via": seen, "convolved_via": replicas[-1].name}


def load_during(url: str, clients: int, seconds: float, action=None) -> dict:
    """benchmarks/load.py's clients for `seconds`, with `action()` run meanwhile in this thread."""
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(run_load(url, clients, seconds)))
    worker.start()
    events = action() if action else None
    worker.join()
    if events:
        out["events"] = events
    return out


def summary(result: dict) -> dict:
    keep = ("requests", "rps", "p50_ms", "p99_ms", "errors", "error_samples", "events")
    return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in result.items() if k in keep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--containers", metavar="IMAGE", nargs="?", const="localhost/convlens:check",
                    help="replicas as podman containers of IMAGE (default: the one scripts/container-check builds)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    own_host = args.containers is not None or can_unshare()
    work = Path(tempfile.mkdtemp(prefix="convlens-replicas-"))
    data = work / "store"
    if args.containers:
        podman_conf(work)
        data.mkdir()
        os.chown(data, 10001, 10001)  # the image's user
        replicas = [ContainerReplica(f"replica-{i + 1}", data, work, args.containers) for i in range(args.replicas)]
    else:
        replicas = [Replica(f"replica-{i + 1}", data, work, own_host) for i in range(args.replicas)]
    report: dict = {"replicas": args.replicas, "clients": args.clients, "seconds": args.seconds,
                    "containers": args.containers, "own_host_names": own_host, "cpus": os.cpu_count()}
    out = args.json or Path(__file__).parent / "results" / ("replicas-containers.json" if args.containers
                                                            else "replicas.json")
    try:
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait_ready()
        with running_nginx([r.port for r in replicas]) as (proxy, _):
            report["upload_check"] = upload_check(replicas, proxy)
            print("upload check:", json.dumps(report["upload_check"]), flush=True)

            report["one_replica"] = summary(load_during(replicas[0].url, args.clients, args.seconds))
            print("one replica, directly:", report["one_replica"], flush=True)

            report["proxy_all_up"] = summary(load_during(proxy, args.clients, args.seconds))
            print(f"{args.replicas} replicas through nginx:", report["proxy_all_up"], flush=True)

            def stop_one():
                time.sleep(args.seconds / 3)
                return [f"{replicas[1].name} SIGTERM at {args.seconds / 3:.0f} s, exited after "
                        f"{replicas[1].stop():.1f} s"]
            report["proxy_one_stopped"] = summary(load_during(proxy, args.clients, args.seconds, stop_one))
            print("a replica stopped mid-load:", report["proxy_one_stopped"], flush=True)
            replicas[1].start()
            replicas[1].wait_ready()

            def rolling():
                events, t0 = [], time.monotonic()
                for r in replicas:
                    down = r.stop()
                    r.start()
                    r.wait_ready()
                    events.append(f"{r.name}: stopped in {down:.1f} s, ready again at {time.monotonic() - t0:.1f} s")
                return events
            report["proxy_rolling_restart"] = summary(load_during(proxy, args.clients, args.seconds, rolling))
            print("rolling restart:", report["proxy_rolling_restart"], flush=True)
    finally:
        for r in replicas:
            r.stop()
            if isinstance(r, ContainerReplica):
                r.remove()
        shutil.rmtree(work, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    runs = [v for k, v in report.items() if isinstance(v, dict) and "errors" in v]
    sys.exit(1 if any(run["errors"] for run in runs) else 0)


if __name__ == "__main__":
    main()
