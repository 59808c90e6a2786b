"""StanceService servicer: protobuf -> domain types -> model call -> protobuf, nothing else."""

from __future__ import annotations

import logging

import queue
import threading
from collections.abc import Iterator

import grpc

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.errors import deadline_of, handle_errors, handle_stream_errors
from service.interceptors import BATCH_DOCUMENTS
from training.corpus import Issue
from training.errors import DeadlineError, ResourceExhaustedError, StanceError
from training.model import Analysis, Span
from training.serving import Batcher, ModelSlot, ServedModel

logger = logging.getLogger(__name__)

STANCE_TO_PB = {"favor": stance_pb2.STANCE_FAVOR, "against": stance_pb2.STANCE_AGAINST,
                "neutral": stance_pb2.STANCE_NEUTRAL}
SENTIMENT_TO_PB = {"positive": stance_pb2.SENTIMENT_POSITIVE, "negative": stance_pb2.SENTIMENT_NEGATIVE,
                   "neutral": stance_pb2.SENTIMENT_NEUTRAL}


def _issue(msg: stance_pb2.Issue) -> Issue:
    return Issue(msg.id, msg.name, tuple(msg.phrases), "", msg.description)


def _span(s: Span) -> stance_pb2.Span:
    return stance_pb2.Span(start=s.start, end=s.end, text=s.text)


def model_info(served: ServedModel) -> stance_pb2.ModelInfo:
    return stance_pb2.ModelInfo(name=served.name, version=served.version, alias=served.alias, run_id=served.run_id,
                                metrics=served.metrics)


def _analysis_response(document_id: str, result: Analysis, served: ServedModel) -> stance_pb2.AnalyzeResponse:
    return stance_pb2.AnalyzeResponse(
            document_id=document_id,
            actors=[stance_pb2.Actor(id=a.id, name=a.name, kind=a.kind, affiliation=a.affiliation,
                                     mentions=[_span(m) for m in a.mentions]) for a in result.actors],
            stances=[stance_pb2.StanceAssertion(
                actor_id=s.actor_id, issue_id=s.issue_id, stance=STANCE_TO_PB[s.stance], confidence=s.confidence,
                evidence=[_span(e) for e in s.evidence], sentiment=SENTIMENT_TO_PB[s.sentiment])
                for s in result.stances],
            actor_sentiments=[stance_pb2.ActorSentiment(actor_id=s.actor_id, toward=SENTIMENT_TO_PB[s.sentiment],
                                                        confidence=s.confidence) for s in result.sentiments],
            issues=[stance_pb2.IssueMention(issue_id=i.issue_id, name=i.name, mentions=[_span(m) for m in i.mentions])
                    for i in result.issues],
            model=model_info(served),
        )


_END = object()


class StanceServicer(stance_pb2_grpc.StanceServiceServicer):
    def __init__(self, slot: ModelSlot, max_stream_documents: int = 10_000, batch_size: int = 8):
        self.slot = slot
        self.max_stream_documents = max_stream_documents
        self.batch_size = max(1, batch_size)
        self.batcher = Batcher(slot, self.batch_size, BATCH_DOCUMENTS.labels("Analyze").observe)

    @handle_errors
    def Analyze(self, request: stance_pb2.AnalyzeRequest, context: grpc.ServicerContext) -> stance_pb2.AnalyzeResponse:
        result, served = self.batcher.analyze(request.text, [_issue(i) for i in request.issues],
                                              deadline_of(context), context.is_active)
        return _analysis_response(request.document_id, result, served)

    @handle_stream_errors
    def AnalyzeStream(self, request_iterator: Iterator[stance_pb2.AnalyzeRequest],
                      context: grpc.ServicerContext) -> Iterator[stance_pb2.AnalyzeResponse]:
        # A reader thread queues documents as they arrive, so those that arrive together form one batch.
        pending: queue.Queue = queue.Queue(maxsize=4 * self.batch_size)

        def put(item) -> bool:
            """Queue `item`, waiting for room; False once the call is gone (a full queue must not park
            this thread forever)."""
            while True:
                try:
                    pending.put(item, timeout=1.0)
                    return True
                except queue.Full:
                    if not context.is_active():
                        return False

        def read() -> None:
            try:
                for req in request_iterator:
                    if not put(req):
                        return
            except Exception:  # the client cancelled or the deadline passed: stop reading
                pass
            # The end goes through like any document: dropped on a full queue, it left the call hanging.
            put(_END)

        threading.Thread(target=read, name="stream-reader", daemon=True).start()
        seen, done = 0, False
        while not done and context.is_active():
            batch = [pending.get()]
            while len(batch) < self.batch_size and not pending.empty():
                batch.append(pending.get_nowait())
            if batch[-1] is _END:
                batch.pop()
                done = True
            if not batch:
                break
            seen += len(batch)
            if seen > self.max_stream_documents:
                raise ResourceExhaustedError(f"a stream takes at most {self.max_stream_documents} documents "
                                             "(STANCE_MAX_STREAM_DOCUMENTS); open a new stream for the rest")
            served = self.slot.get()
            BATCH_DOCUMENTS.labels("AnalyzeStream").observe(len(batch))
            results = served.model.analyze_many([(r.text, [_issue(i) for i in r.issues]) for r in batch],
                                                deadline_of(context))
            for req, res in zip(batch, results):
                if isinstance(res, DeadlineError):  # the stream's own deadline: the whole call is over
                    raise res
                if isinstance(res, StanceError):
                    yield stance_pb2.AnalyzeResponse(document_id=req.document_id, error=str(res),
                                                     model=model_info(served))
                else:
                    yield _analysis_response(req.document_id, res, served)

    @handle_errors
    def ClassifyStance(self, request: stance_pb2.ClassifyStanceRequest,
                       context: grpc.ServicerContext) -> stance_pb2.ClassifyStanceResponse:
        served = self.slot.get()
        result = served.model.classify_stance(request.text, request.holder, _issue(request.issue))
        return stance_pb2.ClassifyStanceResponse(
            stance=STANCE_TO_PB[result.stance], scores=result.scores, sentiment=SENTIMENT_TO_PB[result.sentiment],
            model=model_info(served), evidence=[_span(e) for e in result.evidence])

    @handle_errors
    def ClassifySentiment(self, request: stance_pb2.ClassifySentimentRequest,
                          context: grpc.ServicerContext) -> stance_pb2.ClassifySentimentResponse:
        served = self.slot.get()
        span = (request.target_span.start, request.target_span.end) if request.HasField("target_span") else None
        result = served.model.classify_sentiment(request.text, request.target, span)
        return stance_pb2.ClassifySentimentResponse(
            sentiment=SENTIMENT_TO_PB[result.sentiment], scores=result.scores, model=model_info(served))

    @handle_errors
    def ListIssues(self, request: stance_pb2.ListIssuesRequest,
                   context: grpc.ServicerContext) -> stance_pb2.ListIssuesResponse:
        served = self.slot.get()
        return stance_pb2.ListIssuesResponse(issues=[
            stance_pb2.Issue(id=i.id, name=i.name, phrases=list(i.phrases), description=i.description)
            for i in served.model.taxonomy.issues.values()])

    @handle_errors
    def GetModelInfo(self, request: stance_pb2.GetModelInfoRequest,
                     context: grpc.ServicerContext) -> stance_pb2.ModelInfo:
        return model_info(self.slot.get())
