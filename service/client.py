"""Command-line client: send a text file to the server, print actors, stances and sentiments (or --json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc

STANCE_NAMES = {v: k for k, v in stance_pb2.Stance.items()}
SENTIMENT_NAMES = {v: k for k, v in stance_pb2.Sentiment.items()}


def _short(name: str) -> str:
    return name.split("_", 1)[1].lower()


def parse_issue(spec: str) -> stance_pb2.Issue:
    """`id` (a taxonomy issue) or `id=Name:phrase one|phrase two` (an ad-hoc issue)."""
    if "=" not in spec:
        return stance_pb2.Issue(id=spec)
    issue_id, rest = spec.split("=", 1)
    name, _, phrases = rest.partition(":")
    return stance_pb2.Issue(id=issue_id, name=name, phrases=[p for p in phrases.split("|") if p])


def print_analysis(resp: stance_pb2.AnalyzeResponse, console: Console) -> None:
    names = {a.id: a.name for a in resp.actors}
    actors = Table(title=f"Actors ({len(resp.actors)})")
    for col in ("actor", "kind", "affiliation", "mentions"):
        actors.add_column(col)
    for a in resp.actors:
        mentions = sorted({m.text for m in a.mentions})
        actors.add_row(a.name, a.kind, names.get(a.affiliation, a.affiliation), ", ".join(mentions))
    console.print(actors)
    stances = Table(title="Stances")
    for col in ("actor", "issue", "stance", "conf.", "tone", "evidence"):
        stances.add_column(col)
    for s in resp.stances:
        evidence = s.evidence[0].text if s.evidence else ""
        stances.add_row(names.get(s.actor_id, s.actor_id), s.issue_id, _short(STANCE_NAMES[s.stance]),
                        f"{s.confidence:.2f}", _short(SENTIMENT_NAMES[s.sentiment]),
                        evidence if len(evidence) < 110 else evidence[:107] + "...")
    console.print(stances)
    sent = Table(title="Sentiment toward actors")
    for col in ("actor", "sentiment", "conf."):
        sent.add_column(col)
    for s in resp.actor_sentiments:
        sent.add_row(names.get(s.actor_id, s.actor_id), _short(SENTIMENT_NAMES[s.toward]), f"{s.confidence:.2f}")
    console.print(sent)
    console.print(f"model {resp.model.name} v{resp.model.version} (@{resp.model.alias})")


def read_batch(path: Path) -> list[tuple[str, str]]:
    """(document_id, text) from a folder of .txt files or a JSONL file with `id` and `text` per line."""
    if path.is_dir():
        return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.txt"))]
    docs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            docs.append((str(rec.get("id", lineno)), rec["text"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SystemExit(f"error: {path}:{lineno}: expected a JSON object with 'text' ({exc})")
    return docs


def summary_table(responses: list[stance_pb2.AnalyzeResponse]) -> Table:
    """Actor-by-issue stance counts over a corpus: F favor, A against, N neutral."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    names: dict[str, str] = {}
    for resp in responses:
        names.update({a.id: a.name for a in resp.actors})
        for s in resp.stances:
            cell = counts.setdefault((s.actor_id, s.issue_id), {"favor": 0, "against": 0, "neutral": 0})
            cell[_short(STANCE_NAMES[s.stance])] += 1
    issues = sorted({i for _, i in counts}, key=lambda i: -sum(sum(c.values()) for (a, j), c in counts.items() if j == i))
    actors = sorted({a for a, _ in counts}, key=lambda a: -sum(sum(c.values()) for (b, _), c in counts.items() if b == a))
    table = Table(title=f"Stances across {len(responses)} documents (F favor / A against / N neutral)")
    table.add_column("actor")
    for issue in issues[:12]:
        table.add_column(issue, justify="center")
    for actor in actors[:40]:
        row = []
        for issue in issues[:12]:
            c = counts.get((actor, issue))
            row.append("" if not c else " ".join(f"{k[0].upper()}{v}" for k, v in c.items() if v))
        table.add_row(names.get(actor, actor), *row)
    return table


def run_batch(stub, path: Path, out: Path | None, timeout: float, console: Console) -> int:
    from rich.progress import Progress

    docs = read_batch(path)
    requests = (stance_pb2.AnalyzeRequest(document_id=doc_id, text=text) for doc_id, text in docs)
    responses, errors = [], 0
    sink = out.open("w", encoding="utf-8") if out else None
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("analysing", total=len(docs))
            for resp in stub.AnalyzeStream(requests, timeout=timeout * max(1, len(docs))):
                progress.advance(task)
                if resp.error:
                    errors += 1
                    console.print(f"[yellow]{resp.document_id}: {resp.error}")
                else:
                    responses.append(resp)
                if sink:
                    sink.write(json.dumps(MessageToDict(resp, preserving_proto_field_name=True), ensure_ascii=False) + "\n")
    finally:
        if sink:
            sink.close()
    console.print(summary_table(responses))
    console.print(f"{len(responses)} analysed, {errors} with errors" + (f"; responses in {out}" if out else ""))
    return 0 if not errors else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.client", description=__doc__)
    parser.add_argument("--address", default="127.0.0.1:50051", help="server host:port")
    parser.add_argument("--json", action="store_true", help="print the response as JSON")
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline in seconds")
    sub = parser.add_subparsers(dest="command", required=True)
    an = sub.add_parser("analyze", help="actors, stances and sentiments of an article")
    an.add_argument("file", type=Path, help="UTF-8 text file ('-' for stdin)")
    an.add_argument("--issue", action="append", default=[], help="ad-hoc issue: id=Name:phrase|phrase")
    st = sub.add_parser("stance", help="stance of a holder toward an issue")
    st.add_argument("file", type=Path)
    st.add_argument("--holder", default="", help="name as in the text; empty = the author")
    st.add_argument("--issue", required=True, help="taxonomy id, or id=Name:phrase|phrase")
    se = sub.add_parser("sentiment", help="sentiment of the text toward a target")
    se.add_argument("file", type=Path)
    se.add_argument("--target", default="")
    ba = sub.add_parser("batch", help="a folder of .txt files or a JSONL file (id, text), streamed, with a summary")
    ba.add_argument("path", type=Path)
    ba.add_argument("--out", type=Path, help="write every response as JSONL here")
    sub.add_parser("issues", help="list the issue taxonomy")
    sub.add_parser("info", help="which model is serving")
    args = parser.parse_args(argv)

    def read(path: Path) -> str:
        try:
            return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            parser.exit(2, f"error: cannot read {path}: {exc}\n")

    probe = Console()
    console = Console(width=max(probe.width, 150)) if not probe.is_terminal else probe
    with grpc.insecure_channel(args.address) as channel:
        stub = stance_pb2_grpc.StanceServiceStub(channel)
        try:
            if args.command == "batch":
                return run_batch(stub, args.path, args.out, args.timeout, console)
            if args.command == "analyze":
                resp = stub.Analyze(stance_pb2.AnalyzeRequest(
                    document_id=str(args.file), text=read(args.file), issues=[parse_issue(s) for s in args.issue]),
                    timeout=args.timeout)
            elif args.command == "stance":
                resp = stub.ClassifyStance(stance_pb2.ClassifyStanceRequest(
                    text=read(args.file), holder=args.holder, issue=parse_issue(args.issue)), timeout=args.timeout)
            elif args.command == "sentiment":
                resp = stub.ClassifySentiment(stance_pb2.ClassifySentimentRequest(
                    text=read(args.file), target=args.target), timeout=args.timeout)
            elif args.command == "issues":
                resp = stub.ListIssues(stance_pb2.ListIssuesRequest(), timeout=args.timeout)
            else:
                resp = stub.GetModelInfo(stance_pb2.GetModelInfoRequest(), timeout=args.timeout)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    if args.json or args.command not in ("analyze",):
        print(json.dumps(MessageToDict(resp, preserving_proto_field_name=True), indent=2, ensure_ascii=False))
    else:
        print_analysis(resp, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
