"""MLflow pyfunc wrapper: the registered model is the whole StanceModel (extraction + classifiers)."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from training.corpus import Issue

INPUT_COLUMNS = ("text", "holder", "issue")


class StancePyfunc(mlflow.pyfunc.PythonModel):
    """predict(): one row per (text, holder, issue) -> stance label and scores; `model` gives the full API."""

    def load_context(self, context) -> None:
        from training.model import StanceModel

        self.model = StanceModel.load(Path(context.artifacts["model_dir"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = []
        for rec in model_input.to_dict(orient="records"):
            issue_id = str(rec.get("issue", ""))
            known = issue_id in self.model.taxonomy.issues
            issue = Issue(issue_id, issue_id, () if known else (issue_id,))
            res = self.model.classify_stance(str(rec["text"]), str(rec.get("holder", "") or ""), issue)
            rows.append({"stance": res.stance, **{k: res.scores[k] for k in ("favor", "against", "neutral")}})
        return pd.DataFrame(rows, columns=["stance", "favor", "against", "neutral"])
