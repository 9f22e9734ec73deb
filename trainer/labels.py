"""A classifier wrapper that trains on labels 0..k-1 and answers in the data set's own labels.

XGBoost accepts only 0..k-1; a CSV target of "yes"/"no" or 1/2 goes through this. The module is pickled by
value with the model (see trainer.tracking), so loading a model never needs the trainer package.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class EncodedLabels(ClassifierMixin, BaseEstimator):
    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.model_ = clone(self.model).fit(X, codes)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.asarray(self.model_.predict(X), dtype=int)]

    @property
    def feature_importances_(self):
        return self.model_.feature_importances_
