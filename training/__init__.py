"""Model building: corpus, spaCy extraction, features, scikit-learn classifiers, MLflow runs."""
