"""`python -m service.bench` (make bench): latency, throughput and memory of the real gRPC server.

Everything runs on this machine over loopback, bounded in count: an in-process server on port 0 with
the registry's champion, the stock client stubs, and the same spaCy pipeline timed bare for reference."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from rich.console import Console
from rich.table import Table

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.app import free_port
from service.server import create_server, set_serving
from training.serving import ModelSlot, ensure_served
from training.settings import PROJECT_ROOT, load_settings

SEED = PROJECT_ROOT / "seeds" / "corpus" / "000_549929fe5eb0465e.txt"


def bench_texts(seeds_dir: Path) -> list[str]:
    """The documents the throughput figures cycle through: the seed article, then the corpus' articles.
    Distinct texts, so no cache (VADER scores, the tokenizer's) makes a repeated document cheaper than a
    new one; served and bare runs go through the same ones."""
    corpus = sorted((Path(seeds_dir) / "corpus").glob("*.txt"))
    return [SEED.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in corpus if p.name != SEED.name]
SENTENCE = "This proposal is strongly opposed by Russia, the Kremlin said on Tuesday."


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def run(n_latency: int, n_throughput: int, clients: int, n_memory: int) -> dict:
    settings = load_settings(address="127.0.0.1:0")
    served = ensure_served(settings)
    text = SEED.read_text(encoding="utf-8")
    texts = (bench_texts(settings.seeds_dir) * 2)[:n_throughput]
    nlp = served.model.nlp
    n_tokens = len(nlp.make_doc(text))
    tokens = sum(len(nlp.make_doc(t)) for t in texts)
    encoder = served.model.featurizer.encoder
    out: dict = {"cpu_count": os.cpu_count(), "model_version": served.version, "seed_tokens": n_tokens,
                 "throughput_documents": len(texts), "throughput_mean_tokens": tokens / len(texts),
                 "encoder": served.model.featurizer.encoder_name or "none"}

    def fresh() -> None:
        """Repeating the seed article must not make it cheaper: drop the sentence encoder's cached vectors
        (VADER's scores are kept per document already)."""
        if encoder is not None:
            encoder.forget()

    t0 = time.perf_counter()
    with nlp.memory_zone():
        for _ in nlp.pipe(texts):
            pass
    out["bare_pipe_docs_per_s"] = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for k in range(0, len(texts), 4):
        with nlp.memory_zone():
            for _ in nlp.pipe(texts[k:k + 4]):
                pass
    out["bare_pipe_batches_of_4_docs_per_s"] = len(texts) / (time.perf_counter() - t0)
    # Where a document's time goes besides parsing it: the extraction and classification steps of
    # Analyze (no gRPC), on the seed article, parsed anew each time (as a request is).
    model = served.model
    issues = {**model.taxonomy.issues, **model._prepare(text, [])}
    steps = {"extract": [], "classify": []}
    for _ in range(n_latency):
        fresh()
        with nlp.memory_zone():
            doc = model.parse(text)
            t0 = time.perf_counter()
            extraction = model.extract(doc)
            t1 = time.perf_counter()
            model._analysis(extraction, issues)
            steps["extract"].append(t1 - t0)
            steps["classify"].append(time.perf_counter() - t1)
    for step, times in steps.items():
        out[f"{step}_step_p50_ms"] = 1000 * statistics.median(times)
    # The same two steps over the throughput texts, against their parse: with gRPC free, the most that
    # serving them could reach of the bare pipeline's throughput.
    with nlp.memory_zone():
        docs = list(nlp.pipe(texts))
        fresh()
        t0 = time.perf_counter()
        for doc in docs:
            model._analysis(model.extract(doc), issues)
        out["throughput_analysis_ms_per_doc"] = 1000 * (time.perf_counter() - t0) / len(docs)
    out["throughput_parse_ms_per_doc"] = 1000 / out["bare_pipe_batches_of_4_docs_per_s"]
    out["analysis_bound_over_bare_pipe"] = out["throughput_parse_ms_per_doc"] / (
        out["throughput_parse_ms_per_doc"] + out["throughput_analysis_ms_per_doc"])

    server, port, health = create_server(settings.address, ModelSlot(served), settings)
    server.start()
    set_serving(health, True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = stance_pb2_grpc.StanceServiceStub(ch)
            req = stance_pb2.AnalyzeRequest(document_id="seed", text=text)
            stub.Analyze(req, timeout=60)  # warm-up
            # Alternating, so that the machine's speed, which drifts, is the same for both.
            bare, lat = [], []
            for _ in range(n_latency):
                t0 = time.perf_counter()
                with nlp.memory_zone():
                    nlp(text)
                bare.append(time.perf_counter() - t0)
                fresh()
                t0 = time.perf_counter()
                stub.Analyze(req, timeout=60)
                lat.append(time.perf_counter() - t0)
            reqs = [stance_pb2.AnalyzeRequest(document_id=str(k), text=t) for k, t in enumerate(texts)]
            with ThreadPoolExecutor(clients) as pool:
                t0 = time.perf_counter()
                list(pool.map(lambda r: stub.Analyze(r, timeout=120), reqs))
                analyze_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            results = list(stub.AnalyzeStream(iter(reqs), timeout=300))
            stream_s = time.perf_counter() - t0
            assert len(results) == len(reqs)
            sreq = stance_pb2.ClassifyStanceRequest(text=SENTENCE, holder="Russia",
                                                    issue=stance_pb2.Issue(id="ukraine_nato_membership"))
            with ThreadPoolExecutor(clients) as pool:
                t0 = time.perf_counter()
                list(pool.map(lambda _: (fresh(), stub.ClassifyStance(sreq, timeout=60)), range(n_throughput * 4)))
                stance_s = time.perf_counter() - t0
            rss0 = rss_mb()
            for _ in range(n_memory):
                stub.ClassifyStance(sreq, timeout=60)
            rss1 = rss_mb()
    finally:
        server.stop(grace=None)
    out.update({
        "bare_parse_p50_ms": 1000 * statistics.median(bare),
        "analyze_p50_ms": 1000 * _pct(lat, 0.5), "analyze_p95_ms": 1000 * _pct(lat, 0.95),
        "analyze_p99_ms": 1000 * _pct(lat, 0.99),
        "analyze_docs_per_s": len(texts) / analyze_s, "analyze_tokens_per_s": tokens / analyze_s,
        "stream_docs_per_s": len(texts) / stream_s,
        "classify_stance_rps": n_throughput * 4 / stance_s,
        "rss_mb_before": rss0, "rss_mb_after": rss1, "memory_requests": n_memory,
    })
    out["analyze_p50_over_bare_parse"] = out["analyze_p50_ms"] / out["bare_parse_p50_ms"]
    out["rss_growth_pct"] = 100 * (rss1 - rss0) / rss0
    return out


def _wait_serving(address: str, timeout: float = 180) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.time() + timeout
    with grpc.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.time() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.3)
    raise RuntimeError(f"{address} did not become SERVING")


def _bare_pipe_process(seeds_dir: str, seconds: float, warmup: float, offset: int, ready, start, results) -> None:
    """One process running the service's spaCy pipeline bare over the bench texts, in batches of 4 (what
    `Analyze` calls that wait batch together, at most): `warmup` seconds, then `seconds` counted; puts
    (documents, tokens, seconds)."""
    from training.nlp import build_nlp
    from training.registry import ActorRegistry

    nlp = build_nlp(ActorRegistry.from_jsonl(Path(seeds_dir) / "actors.jsonl"))
    texts = bench_texts(Path(seeds_dir))
    texts = texts[offset:] + texts[:offset]
    with nlp.memory_zone():
        list(nlp.pipe(texts[:2]))
    ready.put(os.getpid())
    start.wait()

    k = 0  # the next text: the counted window goes on from where the warm-up stopped, as the clients do

    def loop(seconds: float) -> tuple[int, int, float]:
        nonlocal k
        done, tokens, t0 = 0, 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            with nlp.memory_zone():
                for doc in nlp.pipe([texts[(k + j) % len(texts)] for j in range(4)]):
                    tokens += len(doc)
            done, k = done + 4, k + 4
        return done, tokens, time.perf_counter() - t0

    loop(warmup)
    results.put(loop(seconds))


def bare_pipe_processes(processes: int, seconds: float, warmup: float = 0.0) -> tuple[float, float]:
    """Documents/s and tokens/s of `processes` bare `nlp.pipe` loops running at once, after `warmup`
    seconds: the ceiling for that many workers on this machine (two processes on two cores do not make
    twice one)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    seeds_dir = str(load_settings().seeds_dir)
    procs = [ctx.Process(target=_bare_pipe_process, args=(seeds_dir, seconds, warmup, 97 * n, ready, start, results))
             for n in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=180)
    start.set()
    parts = [results.get(timeout=warmup + seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    return sum(d / s for d, _, s in parts), sum(t / s for _, t, s in parts)


def workers_against_bare(workers: int, seconds: float, clients: int, warmup: float = 0.0,
                         rounds: int = 2) -> dict[str, float]:
    """`python -m service` with `workers` processes against as many bare `nlp.pipe` processes, in
    alternating windows (served, bare, served, bare...) so that the machine's drifting speed weighs on both
    alike; each window opens after `warmup` seconds of its load. The clients cycle through the bench texts,
    each on its own connection, so the kernel spreads them over the processes sharing the port. Also the
    share of the machine's CPU time the clients (this process) used: CPU the workers could not have, which
    the bare processes did not have to share. Means over the rounds."""
    import signal
    import subprocess

    from training.nlp import build_nlp
    from training.registry import ActorRegistry

    settings = load_settings()
    texts = bench_texts(settings.seeds_dir)
    tokenizer = build_nlp(ActorRegistry.from_jsonl(settings.seeds_dir / "actors.jsonl")).tokenizer
    reqs = [(stance_pb2.AnalyzeRequest(document_id=str(k), text=t), len(tokenizer(t))) for k, t in enumerate(texts)]
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "STANCE_ADDRESS": address, "STANCE_WORKERS": str(workers)}
    proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def served_window(offset: int) -> tuple[float, float, float]:
        # Fixed time, not a fixed count: connections are spread by hash, so one worker may get more of
        # them; counting what all of them complete in the same window measures the capacity of the set.
        t_start = time.perf_counter() + warmup
        t_end = t_start + seconds

        def client(n: int) -> tuple[int, int]:
            done, tokens, k = 0, 0, offset + 31 * n
            with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
                stub = stance_pb2_grpc.StanceServiceStub(ch)
                while time.perf_counter() < t_end:
                    req, n_tokens = reqs[k % len(reqs)]
                    stub.Analyze(req, timeout=120)
                    k += 1
                    # Counted: answered after the window opened; it closes when the last call sent before
                    # t_end is answered.
                    if time.perf_counter() > t_start:
                        done, tokens = done + 1, tokens + n_tokens
            return done, tokens

        cpu0 = time.process_time()
        with ThreadPoolExecutor(clients) as pool:
            parts = list(pool.map(client, range(clients)))
        wall = time.perf_counter() - t_start
        cpu_share = (time.process_time() - cpu0) / ((warmup + wall) * (os.cpu_count() or 1))
        return sum(d for d, _ in parts) / wall, sum(t for _, t in parts) / wall, cpu_share

    served, bare = [], []
    try:
        # Every worker must be up before timing: poll until a fresh connection has been answered by each.
        _wait_serving(address)
        time.sleep(2.0 * workers)
        for r in range(rounds):
            served.append(served_window(101 * r))
            bare.append(bare_pipe_processes(workers, seconds, warmup))  # the server idles meanwhile
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    out = {f"analyze_docs_per_s_{workers}_workers": statistics.mean(d for d, _, _ in served),
           f"analyze_tokens_per_s_{workers}_workers": statistics.mean(t for _, t, _ in served),
           f"client_cpu_share_{workers}_workers": statistics.mean(c for _, _, c in served),
           f"bare_pipe_docs_per_s_{workers}_processes": statistics.mean(d for d, _ in bare),
           f"bare_pipe_tokens_per_s_{workers}_processes": statistics.mean(t for _, t in bare)}
    # Tokens, not documents: the windows end on different documents of different lengths.
    ratios = [s[1] / b[1] for s, b in zip(served, bare)]
    out[f"workers_{workers}_over_bare_pipe"] = statistics.mean(ratios)
    out[f"workers_{workers}_over_bare_pipe_by_round"] = " ".join(f"{x:.2f}" for x in ratios)
    return out


def mlflow_serve_rps(n_requests: int, clients: int) -> float:
    """The same champion behind `mlflow models serve` (REST, one uvicorn worker): ClassifyStance-equivalent
    requests/s through the pyfunc signature (text, holder, issue), for comparison with our gRPC path."""
    import signal
    import subprocess
    import urllib.request

    settings = load_settings()
    port = free_port()
    bin_dir = str(PROJECT_ROOT / ".venv" / "bin")  # mlflow starts `uvicorn` from PATH
    env = {**os.environ, "MLFLOW_TRACKING_URI": settings.tracking_uri, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cmd = [str(PROJECT_ROOT / ".venv" / "bin" / "mlflow"), "models", "serve", "-m",
           f"models:/{settings.model_name}@{settings.model_alias}", "--env-manager", "local", "-w", "1",
           "-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    body = json.dumps({"dataframe_records": [{"text": SENTENCE, "holder": "Russia",
                                              "issue": "ukraine_nato_membership"}]}).encode()
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("mlflow models serve did not start")
                time.sleep(0.5)

        def post(_):
            req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                json.loads(resp.read())

        post(0)
        with ThreadPoolExecutor(clients) as pool:
            t0 = time.perf_counter()
            list(pool.map(post, range(n_requests)))
            return n_requests / (time.perf_counter() - t0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.bench", description=__doc__)
    parser.add_argument("--latency-requests", type=int, default=50)
    parser.add_argument("--throughput-requests", type=int, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker-seconds", type=float, default=20.0, help="measuring window per worker count")
    parser.add_argument("--warmup-seconds", type=float, default=10.0,
                        help="load before each worker/bare-process window opens (steady state, both alike)")
    parser.add_argument("--worker-rounds", type=int, default=2,
                        help="alternating served/bare window pairs per worker count")
    parser.add_argument("--no-mlflow-serve", dest="mlflow_serve", action="store_false",
                        help="skip the comparison with `mlflow models serve` (REST)")
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",") if x], default=[1, os.cpu_count() or 1],
                        help="also measure `python -m service` with these worker counts (default: 1,CPUs; '' skips)")
    args = parser.parse_args(argv)
    res = run(args.latency_requests, args.throughput_requests, args.clients, args.memory_requests)
    if args.mlflow_serve:
        res["mlflow_models_serve_rps"] = mlflow_serve_rps(args.throughput_requests * 4, args.clients)
        res["grpc_over_mlflow_serve"] = res["classify_stance_rps"] / res["mlflow_models_serve_rps"]
    if args.workers:
        for n in args.workers:
            res.update(workers_against_bare(n, args.worker_seconds, 2 * args.clients, args.warmup_seconds,
                                            args.worker_rounds))
        lo, hi = min(args.workers), max(args.workers)
        if hi > lo:
            res[f"speedup_{hi}_vs_{lo}_workers"] = (res[f"analyze_tokens_per_s_{hi}_workers"]
                                                    / res[f"analyze_tokens_per_s_{lo}_workers"])
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    table = Table(title=f"make bench: one server process, {args.clients} concurrent clients, {res['cpu_count']} CPUs")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k, v in res.items():
        table.add_row(k, f"{v:.2f}" if isinstance(v, float) else str(v))
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
