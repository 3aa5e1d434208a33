"""Baselines and the models behind data checks; scikit-learn is imported where used."""

from truthset.modeling.oof import out_of_fold_probabilities, text_classifier

__all__ = ["out_of_fold_probabilities", "text_classifier"]
