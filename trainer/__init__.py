"""Training: data loading and validation, four model families, MLflow tracking, selection, promotion."""
