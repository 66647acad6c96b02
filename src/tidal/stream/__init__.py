"""Online learning on streams: learners that keep learning from micro-batches, warm-started from
the library's batch models, with states that checkpoint and restore bit-identically.

    from tidal.stream import FTRLLogisticRegression, ADWIN, DriftAdaptive

    learner = FTRLLogisticRegression.from_batch_model(package)   # or FTRLLogisticRegression(alpha=0.05)
    for X, y in batches:                                         # numpy rows, 0/1 labels
        probabilities = learner.predict_proba(X)                 # progressive validation
        learner.learn(X, y)
    checkpoint = learner.state()                                 # arrays and numbers
    learner = FTRLLogisticRegression.from_state(checkpoint)      # exactly where it was

Every learner has ``learn(X, y=None)``, ``state()`` and ``from_state(state)``; ``restore(state)``
rebuilds any of them. ``StreamModel`` puts one in a model package (flavor ``stream``: numpy
arrays and JSON, no pickle) that ``tidal serve`` and ``model.predict`` load.
"""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "ADWIN": "tidal.stream._drift",
    "CheckpointError": "tidal.stream._checkpoint",
    "JobError": "tidal.stream._job_spec",
    "JobSpec": "tidal.stream._job_spec",
    "STEPS": "tidal.stream._steps",
    "StreamJob": "tidal.stream._runner",
    "parse_job": "tidal.stream._job_spec",
    "read_job": "tidal.stream._job_spec",
    "DriftAdaptive": "tidal.stream._adaptive",
    "FTRLLogisticRegression": "tidal.stream._ftrl",
    "FeatureHasher": "tidal.stream._encoding",
    "LEARNERS": "tidal.stream._learners",
    "OnlineGaussianNB": "tidal.stream._naive_bayes",
    "OnlineLinearRegression": "tidal.stream._linear",
    "OnlineStandardScaler": "tidal.stream._encoding",
    "PageHinkley": "tidal.stream._drift",
    "QuantileSketch": "tidal.stream._stats",
    "RiverEstimator": "tidal.stream._river",
    "StateError": "tidal.stream._state",
    "StreamModel": "tidal.stream._flavor",
    "StreamingKMeans": "tidal.stream._kmeans",
    "StreamingStats": "tidal.stream._stats",
    "restore": "tidal.stream._learners",
    "job_status": "tidal.stream._status",
    "list_jobs": "tidal.stream._status",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.stream._adaptive import DriftAdaptive
    from tidal.stream._checkpoint import CheckpointError
    from tidal.stream._drift import ADWIN, PageHinkley
    from tidal.stream._encoding import FeatureHasher, OnlineStandardScaler
    from tidal.stream._flavor import StreamModel
    from tidal.stream._ftrl import FTRLLogisticRegression
    from tidal.stream._job_spec import JobError, JobSpec, parse_job, read_job
    from tidal.stream._kmeans import StreamingKMeans
    from tidal.stream._learners import LEARNERS, restore
    from tidal.stream._linear import OnlineLinearRegression
    from tidal.stream._naive_bayes import OnlineGaussianNB
    from tidal.stream._river import RiverEstimator
    from tidal.stream._runner import StreamJob
    from tidal.stream._state import StateError
    from tidal.stream._stats import QuantileSketch, StreamingStats
    from tidal.stream._status import job_status, list_jobs
    from tidal.stream._steps import STEPS

__all__ = [
    "ADWIN",
    "LEARNERS",
    "STEPS",
    "CheckpointError",
    "DriftAdaptive",
    "FTRLLogisticRegression",
    "FeatureHasher",
    "JobError",
    "JobSpec",
    "OnlineGaussianNB",
    "OnlineLinearRegression",
    "OnlineStandardScaler",
    "PageHinkley",
    "QuantileSketch",
    "RiverEstimator",
    "StateError",
    "StreamJob",
    "StreamModel",
    "StreamingKMeans",
    "StreamingStats",
    "job_status",
    "list_jobs",
    "parse_job",
    "read_job",
    "restore",
]
