"""Production behaviour of the real server: streaming, limits, auth, metrics, hot reload, SIGTERM, fuzzing."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.app import free_port
from service.bench import rss_mb
from service.server import create_server, set_serving
from training.serving import ModelSlot, ModelWatcher
from training.settings import PROJECT_ROOT


def _request(text: str, doc_id: str = "", issues=()) -> stance_pb2.AnalyzeRequest:
    return stance_pb2.AnalyzeRequest(document_id=doc_id, text=text, issues=list(issues))


@pytest.fixture()
def make_server(served, store):
    """Start extra servers with changed settings; all are stopped at the end of the test."""
    started = []

    def start(**changes):
        settings = dataclasses.replace(store, **changes)
        srv, port, health = create_server("127.0.0.1:0", ModelSlot(served), settings)
        srv.start()
        set_serving(health, True)
        started.append(srv)
        return f"127.0.0.1:{port}"

    yield start
    for srv in started:
        srv.stop(grace=None)


def test_stream_answers_in_order_and_survives_a_bad_document(stub, seed_text):
    docs = [_request(seed_text, "a"), _request("   ", "blank"), _request("Hungary opposes the sanctions package.", "c"),
            _request("Russia said no.", "d", [stance_pb2.Issue(id="no_such_issue")])]
    out = list(stub.AnalyzeStream(iter(docs), timeout=120))
    assert [r.document_id for r in out] == ["a", "blank", "c", "d"]
    assert out[0].stances and not out[0].error
    assert "empty" in out[1].error and not out[1].actors
    assert not out[2].error and "unknown issue id" in out[3].error
    assert all(r.model.version for r in out)


def test_a_stream_longer_than_the_servers_queue_ends(make_server):
    """The reader thread queues at most 4 x STANCE_BATCH_SIZE documents; when the last one fills the queue,
    the end of the stream must still get through (it once was dropped, and the call hung to its deadline)."""
    stub = stance_pb2_grpc.StanceServiceStub(grpc.insecure_channel(make_server(batch_size=1)))
    for _ in range(3):
        reqs = [_request(f"Hungary opposes the sanctions package number {k}.", str(k)) for k in range(40)]
        answers = list(stub.AnalyzeStream(iter(reqs), timeout=60))
        assert [a.document_id for a in answers] == [str(k) for k in range(40)]


def test_empty_stream_returns_nothing(stub):
    assert list(stub.AnalyzeStream(iter([]), timeout=30)) == []


def test_stream_document_limit(make_server):
    address = make_server(max_stream_documents=2)
    with grpc.insecure_channel(address) as ch:
        stub = stance_pb2_grpc.StanceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            list(stub.AnalyzeStream(iter([_request(f"Russia said no {i}.", str(i)) for i in range(5)]), timeout=60))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "STANCE_MAX_STREAM_DOCUMENTS" in err.value.details()


def test_token_authentication(make_server):
    address = make_server(auth_token="s3cret")
    with grpc.insecure_channel(address) as ch:
        stub = stance_pb2_grpc.StanceServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10, metadata=[("authorization", "Bearer nope")])
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10,
                                 metadata=[("authorization", "Bearer s3cret")])
        assert info.version
        health = health_pb2_grpc.HealthStub(ch)  # health stays open for orchestrators
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == health_pb2.HealthCheckResponse.SERVING


def test_overload_is_refused_not_queued(make_server, seed_text):
    address = make_server(max_concurrent_rpcs=1, max_workers=4)
    big = seed_text * 8
    with grpc.insecure_channel(address) as ch:
        stub = stance_pb2_grpc.StanceServiceStub(ch)

        def call(_):
            try:
                stub.Analyze(_request(big), timeout=120)
                return grpc.StatusCode.OK
            except grpc.RpcError as exc:
                return exc.code()

        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(call, range(6)))
    assert grpc.StatusCode.OK in codes
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}


def test_deadline_is_honoured(stub, seed_text):
    with pytest.raises(grpc.RpcError) as err:
        stub.Analyze(_request(seed_text * 20), timeout=0.01)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("method", ["Analyze", "AnalyzeStream"])
def test_work_stops_when_the_deadline_passes(make_server, seed_text, method):
    """A parse that outlives its caller's deadline stops between pipeline steps: the next call on the same
    worker does not wait for the abandoned document (or batch) to be finished."""
    stub = stance_pb2_grpc.StanceServiceStub(grpc.insecure_channel(make_server()))
    big = seed_text * 12
    if method == "Analyze":
        call = lambda timeout: stub.Analyze(_request(big), timeout=timeout)  # noqa: E731
    else:
        call = lambda timeout: list(stub.AnalyzeStream(iter([_request(seed_text, str(k)) for k in range(12)]),  # noqa: E731
                                                       timeout=timeout))
    t0 = time.perf_counter()
    call(120)
    full = time.perf_counter() - t0
    with ThreadPoolExecutor(1) as pool:
        abandoned = pool.submit(call, 0.3 * full)
        time.sleep(0.4 * full)  # the deadline has passed; the server notices at its next step
        t1 = time.perf_counter()
        stub.ListIssues(stance_pb2.ListIssuesRequest(), timeout=30)
        stub.Analyze(_request("Russia rejects Ukraine's membership in NATO."), timeout=60)
        waited = time.perf_counter() - t1
        with pytest.raises(grpc.RpcError) as err:
            abandoned.result()
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert waited < 0.45 * full, (waited, full)


def _batches(method: str) -> tuple[float, float]:
    """(batches, batches of more than one document) recorded so far for `method`."""
    from prometheus_client import REGISTRY

    count = REGISTRY.get_sample_value("stance_batch_documents_count", {"method": method}) or 0.0
    single = REGISTRY.get_sample_value("stance_batch_documents_bucket", {"method": method, "le": "1.0"}) or 0.0
    return count, count - single


def _answer(resp: stance_pb2.AnalyzeResponse) -> tuple:
    """What a response says about the document (not which model said it)."""
    return (resp.document_id, [(a.id, [(m.start, m.end) for m in a.mentions]) for a in resp.actors],
            [(s.actor_id, s.issue_id, s.stance, round(s.confidence, 6), s.sentiment) for s in resp.stances],
            [(s.actor_id, s.toward) for s in resp.actor_sentiments])


def test_calls_that_wait_for_the_model_are_batched_and_each_gets_its_own_answer(make_server, seed_text):
    """Analyze calls arriving while the worker's model is busy are parsed together on its next turn; each
    still gets exactly the answer it gets alone."""
    stub = stance_pb2_grpc.StanceServiceStub(grpc.insecure_channel(make_server(batch_size=4, max_workers=4)))
    texts = [seed_text * 4, "Russia rejects Ukraine's membership in NATO, the Kremlin said.",
             "Hungary's prime minister opposes the new sanctions package.", seed_text[:1500]]
    alone = [_answer(stub.Analyze(_request(t, str(k)), timeout=120)) for k, t in enumerate(texts)]
    batches, multi = _batches("Analyze")
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(stub.Analyze, _request(texts[0], "0"), timeout=120)
        time.sleep(0.1)  # the long first document keeps the model busy while the others arrive
        rest = [pool.submit(stub.Analyze, _request(t, str(k)), timeout=120) for k, t in enumerate(texts) if k]
        together = [_answer(f.result()) for f in [first, *rest]]
    assert together == alone
    after, multi_after = _batches("Analyze")
    assert after - batches >= 2 and multi_after - multi >= 1, "the three waiting calls were not batched"


def test_a_waiting_call_past_its_deadline_returns_then_and_the_others_are_answered(served, seed_text):
    from training.errors import DeadlineError, StanceError
    from training.model import Analysis
    from training.serving import Batcher

    batcher = Batcher(ModelSlot(served), max_batch=4)
    out: dict[str, object] = {}

    finished: dict[str, float] = {}

    def call(name: str, text: str, deadline: float | None, wanted=lambda: True) -> None:
        try:
            out[name] = batcher.analyze(text, [], deadline, wanted)[0]
        except StanceError as exc:
            out[name] = exc
        finished[name] = time.monotonic()

    lead = threading.Thread(target=call, args=("lead", seed_text * 8, None))
    lead.start()
    time.sleep(0.1)
    waiting = [threading.Thread(target=call, args=("late", seed_text, time.monotonic() + 0.05)),
               threading.Thread(target=call, args=("gone", seed_text, None, lambda: False)),
               threading.Thread(target=call, args=("ok", "Russia rejects Ukraine's membership in NATO.", None))]
    for t in waiting:
        t.start()
    for t in (lead, *waiting):
        t.join(timeout=120)
    assert isinstance(out["lead"], Analysis) and isinstance(out["ok"], Analysis)
    assert isinstance(out["late"], DeadlineError) and "deadline passed" in str(out["late"])
    assert finished["late"] < finished["lead"], "a waiting call past its deadline kept its thread until its turn"
    assert isinstance(out["gone"], DeadlineError) and "cancelled" in str(out["gone"])
    assert {s.issue_id for s in out["ok"].stances} == {"ukraine_nato_membership"}


def test_metrics_count_calls_by_code(stub):
    from service.interceptors import IN_FLIGHT, REQUESTS

    for _ in range(200):  # calls of earlier tests may still be finishing on the server
        if IN_FLIGHT._value.get() == 0:
            break
        time.sleep(0.05)
    method = "/stance.v1.StanceService/Analyze"
    before_ok = REQUESTS.labels(method, "OK")._value.get()
    before_bad = REQUESTS.labels(method, "INVALID_ARGUMENT")._value.get()
    stub.Analyze(_request("Hungary opposes the sanctions package."), timeout=30)
    with pytest.raises(grpc.RpcError):
        stub.Analyze(_request(""), timeout=30)
    # The server records a call just after the client has its answer: allow it a moment.
    for _ in range(50):
        if (REQUESTS.labels(method, "OK")._value.get() >= before_ok + 1
                and REQUESTS.labels(method, "INVALID_ARGUMENT")._value.get() >= before_bad + 1):
            break
        time.sleep(0.05)
    assert REQUESTS.labels(method, "OK")._value.get() == before_ok + 1
    assert REQUESTS.labels(method, "INVALID_ARGUMENT")._value.get() == before_bad + 1


def test_hot_reload_under_load_drops_nothing(store, served):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(store.tracking_uri)
    client = MlflowClient()
    original = client.get_model_version_by_alias(store.model_name, store.model_alias).version
    new = mlflow.register_model(f"models:/{store.model_name}/{original}", store.model_name).version
    slot = ModelSlot(served)
    srv, port, health = create_server("127.0.0.1:0", slot, store)
    srv.start()
    set_serving(health, True)
    watcher = ModelWatcher(store, slot, interval=3600)
    failures, versions, stop = [], set(), threading.Event()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = stance_pb2_grpc.StanceServiceStub(ch)

            def load():
                while not stop.is_set():
                    try:
                        versions.add(stub.Analyze(_request("Hungary opposes the sanctions package."), timeout=30).model.version)
                    except grpc.RpcError as exc:
                        failures.append(exc.code())

            threads = [threading.Thread(target=load) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            client.set_registered_model_alias(store.model_name, store.model_alias, new)
            assert watcher.check_once()
            assert not watcher.check_once()  # nothing moved since
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join()
    finally:
        client.set_registered_model_alias(store.model_name, store.model_alias, original)
        srv.stop(grace=None)
    assert failures == []
    assert {str(original), str(new)} <= versions
    assert slot.get().version == str(new)


def test_sigterm_lets_in_flight_requests_finish(store, seed_text):
    """Two workers on one port: one metrics endpoint counts the calls of both; SIGTERM under load loses none."""
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.tracking_uri, "STANCE_ADDRESS": f"127.0.0.1:{port}",
           "STANCE_SEEDS_DIR": str(store.seeds_dir), "STANCE_RELOAD_SECONDS": "3600", "STANCE_GRACE_SECONDS": "30",
           "STANCE_WORKERS": "2", "STANCE_METRICS_PORT": str(metrics_port)}
    # Its own process group, so a failed test can stop the workers too (they hold the output pipe open).
    proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=PROJECT_ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.time() + 120
            while True:
                try:
                    if health.Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                assert time.time() < deadline, "server did not become SERVING"
                time.sleep(0.3)
            stub = stance_pb2_grpc.StanceServiceStub(ch)
            for _ in range(6):  # new channels, so the kernel spreads them over both workers
                with grpc.insecure_channel(f"127.0.0.1:{port}") as other:
                    stance_pb2_grpc.StanceServiceStub(other).ListIssues(stance_pb2.ListIssuesRequest(), timeout=30)
            scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in scraped.splitlines()
                          if line.startswith("stance_requests_total{") and 'ListIssues"' in line)
            assert counted == 6, scraped
            with ThreadPoolExecutor(3) as pool:
                futures = [pool.submit(stub.Analyze, _request(seed_text * 6, str(i)), timeout=120) for i in range(3)]
                time.sleep(0.3)
                proc.send_signal(signal.SIGTERM)
                results = [f.result() for f in futures]
        assert [r.document_id for r in results] == ["0", "1", "2"]
        assert proc.wait(timeout=60) == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        output = proc.communicate(timeout=30)[0]
    assert "stopped" in output


texts = st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=400)
issues = st.lists(st.builds(stance_pb2.Issue, id=st.text(max_size=12), name=st.text(max_size=20),
                            phrases=st.lists(st.text(max_size=30), max_size=3)), max_size=3)


@hsettings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, issue_list=issues, holder=st.text(max_size=20))
def test_fuzz_never_internal(stub, text, issue_list, holder):
    """Random texts, issues and holders: the answer is a result or a documented client error, never INTERNAL."""
    allowed = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
    calls = [lambda: stub.Analyze(_request(text, issues=issue_list), timeout=30)]
    if issue_list:
        calls.append(lambda: stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(
            text=text, holder=holder, issue=issue_list[0]), timeout=30))
    calls.append(lambda: stub.ClassifySentiment(stance_pb2.ClassifySentimentRequest(text=text, target=holder),
                                                timeout=30))
    for call in calls:
        try:
            call()
        except grpc.RpcError as exc:
            assert exc.code() in allowed, (exc.code(), exc.details())


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0,
                    reason="openssl is needed to make a test certificate")
def test_tls(make_server, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    address = make_server(tls_cert=str(cert), tls_key=str(key))
    port = address.rsplit(":", 1)[1]
    creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(f"localhost:{port}", creds) as ch:
        assert stance_pb2_grpc.StanceServiceStub(ch).GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10).version
    with grpc.insecure_channel(f"localhost:{port}") as ch:  # plaintext is refused
        with pytest.raises(grpc.RpcError) as err:
            stance_pb2_grpc.StanceServiceStub(ch).GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_soak_concurrent_clients_no_errors_flat_memory(stub, seed_text):
    """A minute of four clients mixing Analyze and ClassifyStance: zero errors, memory within 10%."""
    texts = [seed_text[: 400 + 97 * k] for k in range(10)]
    errors, done, stop = [], [0], threading.Event()

    def client(k):
        n = 0
        while not stop.is_set():
            try:
                if n % 3:
                    stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(
                        text="This proposal is strongly opposed by Russia.", holder="Russia",
                        issue=stance_pb2.Issue(id="ukraine_nato_membership")), timeout=30)
                else:
                    stub.Analyze(_request(texts[(k + n) % len(texts)], str(n)), timeout=30)
                done[0] += 1
            except grpc.RpcError as exc:
                errors.append(exc.code())
            n += 1

    for _ in range(20):  # warm up before the baseline
        stub.Analyze(_request(texts[0]), timeout=30)
    before = rss_mb()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(60)
    stop.set()
    for t in threads:
        t.join()
    after = rss_mb()
    assert errors == [] and done[0] > 50
    assert after < before * 1.10, (before, after)


@pytest.mark.parametrize("text", [
    "Russia\x00 opposes\x07 the plan.\x1b[31m",                      # control characters
    "Россия выступает против членства Украины в НАТО.",               # Cyrillic
    "中国反对对台军售。北京表示强烈不满。",                                  # Chinese
    "عارضت إسرائيل وقف إطلاق النار في غزة.",                          # Arabic, right to left
    "x" * 50_000,                                                    # one very long token
    "Hungary opposes the sanctions. " * 3000,                        # long but within the limit
    "\u200b\u200b\ufeff",                                            # only invisible characters
])
def test_unusual_text_gets_an_answer_or_a_clear_error(stub, text):
    try:
        resp = stub.Analyze(_request(text), timeout=120)
        for a in resp.actors:
            for m in a.mentions:
                assert text[m.start:m.end] == m.text
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()


@pytest.mark.parametrize("issue, code", [
    (stance_pb2.Issue(id="x", phrases=["ok", "p" * 500]), grpc.StatusCode.INVALID_ARGUMENT),
    (stance_pb2.Issue(id=" ", name="blank id"), grpc.StatusCode.INVALID_ARGUMENT),
    (stance_pb2.Issue(id="nope"), grpc.StatusCode.NOT_FOUND),
])
def test_malformed_ad_hoc_issues(stub, issue, code):
    for call in (lambda: stub.Analyze(_request("Russia opposes it.", issues=[issue]), timeout=30),
                 lambda: stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(text="Russia opposes it.", issue=issue),
                                             timeout=30)):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == code


def test_cancelled_stream_leaves_the_server_serving(stub, seed_text):
    calls = stub.AnalyzeStream(iter([_request(seed_text, str(i)) for i in range(50)]), timeout=120)
    first = next(calls)
    calls.cancel()
    assert first.document_id == "0"
    assert stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10).version
