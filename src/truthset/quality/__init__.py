"""Quality control: agreement, aggregation with annotator reliability, gold checks, sampling.

Pure functions and scikit-learn-style estimators over the long annotation frame
(``item``, ``annotator``, ``label``); no I/O, no database. Each submodule declares its
public names in ``__all__``; they are re-exported here.
"""

from truthset.quality import aggregation as _aggregation
from truthset.quality import agreement as _agreement
from truthset.quality import reliability as _reliability
from truthset.quality import sampling as _sampling
from truthset.quality import spans as _spans
from truthset.quality.aggregation import *  # noqa: F403  (names listed in its __all__)
from truthset.quality.agreement import *  # noqa: F403
from truthset.quality.reliability import *  # noqa: F403
from truthset.quality.sampling import *  # noqa: F403
from truthset.quality.spans import *  # noqa: F403

__all__ = [
    *_agreement.__all__,
    *_aggregation.__all__,
    *_reliability.__all__,
    *_sampling.__all__,
    *_spans.__all__,
]
