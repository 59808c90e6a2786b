"""StanceService servicer: protobuf -> domain types -> model call -> protobuf, nothing else."""

from __future__ import annotations

import logging

import grpc

from service.api.stance.v1 import stance_pb2, stance_pb2_grpc
from service.errors import handle_errors
from training.corpus import Issue
from training.model import Span
from training.serving import ModelSlot, ServedModel

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


class StanceServicer(stance_pb2_grpc.StanceServiceServicer):
    def __init__(self, slot: ModelSlot):
        self.slot = slot

    @handle_errors
    def Analyze(self, request: stance_pb2.AnalyzeRequest, context: grpc.ServicerContext) -> stance_pb2.AnalyzeResponse:
        served = self.slot.get()
        result = served.model.analyze(request.text, [_issue(i) for i in request.issues])
        return stance_pb2.AnalyzeResponse(
            document_id=request.document_id,
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
