"""AutoML: search spaces, strategies behind one ask/tell interface, studies that survive crashes.

::

    from tidal.automl import create_study, resume_study

    study = create_study(frame, trainer="classification.lightgbm", label="target",
                         metric="auc", strategy="evolutionary", budget=12)
    study.optimize(workers=2)
    model = study.best_model()

In a pipeline, the ``automl.tune`` component does the same and outputs the best model, the
table of trials and a report with charts. See docs/automl.md.
"""

from tidal.automl._evolutionary import EvolutionarySearch
from tidal.automl._iterative import ITERATIVE, IterativeTrainer, iterative_trainer
from tidal.automl._metrics import METRICS, score_model
from tidal.automl._pbt import PopulationBasedTraining
from tidal.automl._pruning import MedianRule, Pruner, SuccessiveHalving, make_pruner
from tidal.automl._records import StudyRecord, TrialRecord
from tidal.automl._space import (
    Dimension,
    SearchSpace,
    SpaceError,
    choice,
    loguniform,
    randint,
    uniform,
)
from tidal.automl._store import StudyStore
from tidal.automl._strategies import STRATEGIES, make_strategy
from tidal.automl._strategy import GridSearch, RandomSearch, Strategy, Suggestion
from tidal.automl._study import (
    Study,
    StudyEvent,
    create_study,
    effective_status,
    list_studies,
    load_study,
    resume_study,
)
from tidal.automl._tpe import TPESearch

__all__ = [
    "ITERATIVE",
    "METRICS",
    "STRATEGIES",
    "Dimension",
    "EvolutionarySearch",
    "GridSearch",
    "IterativeTrainer",
    "MedianRule",
    "PopulationBasedTraining",
    "Pruner",
    "RandomSearch",
    "SearchSpace",
    "SpaceError",
    "Strategy",
    "Study",
    "StudyEvent",
    "StudyRecord",
    "StudyStore",
    "Suggestion",
    "SuccessiveHalving",
    "TPESearch",
    "TrialRecord",
    "choice",
    "create_study",
    "effective_status",
    "iterative_trainer",
    "list_studies",
    "load_study",
    "loguniform",
    "make_pruner",
    "make_strategy",
    "randint",
    "resume_study",
    "score_model",
    "uniform",
]
