"""The gRPC service end to end: a real server on port 0, a real channel, a model from a real MLflow store."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc


def _stances(resp):
    return {(s.actor_id, s.issue_id): s for s in resp.stances}


def test_seed_article_nato_stances_with_evidence(stub, seed_text):
    resp = stub.Analyze(stance_pb2.AnalyzeRequest(document_id="seed", text=seed_text), timeout=60)
    assert resp.document_id == "seed"
    stances = _stances(resp)
    russia = stances[("russia", "ukraine_nato_membership")]
    ukraine = stances[("ukraine", "ukraine_nato_membership")]
    assert russia.stance == stance_pb2.STANCE_AGAINST
    assert ukraine.stance == stance_pb2.STANCE_FAVOR
    for assertion, needle in ((russia, "strongly opposed by Russia"), (ukraine, "advocate for Ukraine's membership")):
        assert 0.0 < assertion.confidence <= 1.0
        assert any(needle in e.text for e in assertion.evidence)
        for e in assertion.evidence:
            assert seed_text[e.start:e.end].strip() == e.text
    actors = {a.id: a for a in resp.actors}
    assert actors["yuri_ushakov"].affiliation == "russia"
    for a in resp.actors:
        for m in a.mentions:
            assert seed_text[m.start:m.end] == m.text
    assert resp.model.alias == "champion" and resp.model.version == "1"
    assert {s.actor_id for s in resp.actor_sentiments} == set(actors)


def test_analyze_with_ad_hoc_issue(stub):
    text = ("Germany rejected the proposed tax on private jets on Monday. "
            "France strongly supports the jet levy, its finance minister said.")
    issue = stance_pb2.Issue(id="jet_tax", name="Tax on private jets", phrases=["tax on private jets", "jet levy"])
    resp = stub.Analyze(stance_pb2.AnalyzeRequest(text=text, issues=[issue]), timeout=60)
    assert any(i.issue_id == "jet_tax" for i in resp.issues)
    stances = _stances(resp)
    assert stances[("germany", "jet_tax")].stance == stance_pb2.STANCE_AGAINST
    assert stances[("france", "jet_tax")].stance == stance_pb2.STANCE_FAVOR


def test_an_issue_defined_by_its_name_alone_is_found_by_the_parts_of_its_name(stub):
    text = "Germany rejected a levy on private jets on Monday, and Belgium said the jet levy could wait."
    issue = stance_pb2.Issue(id="jet_levy", name="Private jet levy")
    resp = stub.Analyze(stance_pb2.AnalyzeRequest(text=text, issues=[issue]), timeout=60)
    found = {m.text for i in resp.issues if i.issue_id == "jet_levy" for m in i.mentions}
    assert "jet levy" in found, "the name is never written verbatim; its part 'jet levy' is"


def test_classify_stance_sentence(stub):
    resp = stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(
        text="This proposal to admit Ukraine into NATO is strongly opposed by Russia.", holder="Russia",
        issue=stance_pb2.Issue(id="ukraine_nato_membership")), timeout=60)
    assert resp.stance == stance_pb2.STANCE_AGAINST
    assert set(resp.scores) == {"favor", "against", "neutral"}
    assert abs(sum(resp.scores.values()) - 1.0) < 1e-4
    assert resp.model.name


def test_classify_sentiment_scores(stub):
    resp = stub.ClassifySentiment(stance_pb2.ClassifySentimentRequest(
        text="Putin accused European nations of sabotaging the peace process.", target="European nations"),
        timeout=60)
    assert resp.sentiment in (stance_pb2.SENTIMENT_POSITIVE, stance_pb2.SENTIMENT_NEGATIVE, stance_pb2.SENTIMENT_NEUTRAL)
    assert abs(sum(resp.scores.values()) - 1.0) < 1e-4


def test_list_issues_and_model_info(stub, served):
    issues = stub.ListIssues(stance_pb2.ListIssuesRequest(), timeout=10).issues
    assert "ukraine_nato_membership" in {i.id for i in issues}
    info = stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10)
    assert info.version == served.version and info.run_id == served.run_id
    assert "dev_stance_macro_f1" in info.metrics


@pytest.mark.parametrize("request_, code, words", [
    (stance_pb2.AnalyzeRequest(text=""), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    (stance_pb2.AnalyzeRequest(text=" \n\t "), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    (stance_pb2.AnalyzeRequest(text="x" * 100_001), grpc.StatusCode.INVALID_ARGUMENT, "limit"),
    (stance_pb2.AnalyzeRequest(text="Russia said no.", issues=[stance_pb2.Issue(id="nope")]),
     grpc.StatusCode.NOT_FOUND, "unknown issue id"),
    (stance_pb2.AnalyzeRequest(text="Russia said no.", issues=[stance_pb2.Issue(name="no id")]),
     grpc.StatusCode.INVALID_ARGUMENT, "id is empty"),
])
def test_analyze_bad_input(stub, request_, code, words):
    with pytest.raises(grpc.RpcError) as err:
        stub.Analyze(request_, timeout=30)
    assert err.value.code() == code
    assert words in err.value.details()


def test_classify_stance_unknown_holder(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(
            text="Russia opposes NATO membership for Ukraine.", holder="Angela Merkel",
            issue=stance_pb2.Issue(id="ukraine_nato_membership")), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Angela Merkel" in err.value.details()


def test_classify_sentiment_bad_span(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.ClassifySentiment(stance_pb2.ClassifySentimentRequest(
            text="Short text.", target_span=stance_pb2.Span(start=5, end=500)), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_server_keeps_serving_after_errors(stub):
    for _ in range(3):
        with pytest.raises(grpc.RpcError):
            stub.Analyze(stance_pb2.AnalyzeRequest(text=""), timeout=10)
    assert stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=10).version


def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service="stance.v1.StanceService"),
                        timeout=10).status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert "stance.v1.StanceService" in names and "grpc.health.v1.Health" in names


def test_no_model_gives_unavailable_and_not_serving():
    from service.server import create_server
    from training.serving import ModelSlot

    srv, port, _ = create_server("127.0.0.1:0", ModelSlot())
    srv.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = stance_pb2_grpc.StanceServiceStub(ch)
            with pytest.raises(grpc.RpcError) as err:
                stub.Analyze(stance_pb2.AnalyzeRequest(text="Russia opposes it."), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            health = health_pb2_grpc.HealthStub(ch)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        srv.stop(grace=None)


def test_cli_client_prints_stance_table(server, seed_text, tmp_path, capsys):
    from service.client import main

    path = tmp_path / "seed.txt"
    path.write_text(seed_text)
    assert main(["--address", server, "analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Stances" in out and "Russia" in out and "against" in out
    assert main(["--address", server, "--json", "analyze", str(path)]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert any(s["actor_id"] == "russia" and s["stance"] == "STANCE_AGAINST" for s in data["stances"])


def test_cli_batch_over_a_folder_prints_the_actor_by_issue_table(server, tmp_path, capsys):
    import json

    from service.client import main

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Hungary blocked the new sanctions package against Russia on Monday.")
    (folder / "b.txt").write_text("Poland strongly supports new sanctions on Russia, its foreign minister said.")
    (folder / "empty.txt").write_text("   ")
    out = tmp_path / "out.jsonl"
    assert main(["--address", server, "batch", str(folder), "--out", str(out)]) == 1  # one document failed
    printed = capsys.readouterr().out
    assert "Stances across 2 documents" in printed and "sanctions_on_russia" in printed
    assert "empty.txt" in printed and "2 analysed, 1 with errors" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["document_id"] for r in rows] == ["a.txt", "b.txt", "empty.txt"]
