"""Classification trainers. Each outputs a model package that ``model.predict`` scores.

Most trainers are declared over a library estimator with the :func:`supervised` factory (see
``_training.py``): bounds and choices of their parameters come from the library's own
constraints. Every classifier gives class labels and probabilities, binary or multiclass.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

import pandas as pd
from sklearn import (
    discriminant_analysis,
    ensemble,
    linear_model,
    naive_bayes,
    neighbors,
    neural_network,
    svm,
    tree,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tidal.components._factorization import FactorizationMachineClassifier
from tidal.components._hyperparameters import (
    LIGHTGBM,
    LIGHTGBM_CAPABILITIES,
    MAX_DEPTH,
    MIN_LEAF,
    N_TREES,
    NETWORK,
    XGBOOST,
    XGBOOST_CAPABILITIES,
    hyper,
    lightgbm_estimator,
    network_arguments,
    tuned,
    xgboost_estimator,
)
from tidal.components._training import fit_supervised, supervised
from tidal.core import Column, Columns, Param, ParameterError, component
from tidal.models import ModelPackage


@component(
    "classification.logistic_regression",
    title="Logistic Regression",
    tags={"sample": "classification", "task": "binary|multiclass", "handles_missing": False, "numeric_only": True, "supports_weights": True},
)
def logistic_regression(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the column to predict")],
    features: Annotated[Columns, Param(help="feature columns; empty means every column but the label")] = None,
    C: Annotated[float, Param(gt=0, log=True, tune=True, low=1e-3, high=1e3, help="inverse regularization strength")] = 1.0,
    penalty: Literal["l2", "l1", "elasticnet", "none"] = "l2",
    l1_ratio: Annotated[float, Param(ge=0, le=1, help="elastic-net mixing (penalty=elasticnet)")] = 0.5,
    max_iter: Annotated[int, Param(ge=1, help="iterations of the solver")] = 1000,
    fit_intercept: bool = True,
    class_weight: Literal["none", "balanced"] = "none",
    standardize: Annotated[bool, Param(help="scale features to zero mean and unit variance first")] = True,
    sample_weight: Annotated[Column | None, Param(help="a column of non-negative row weights; it is never a feature")] = None,
    seed: Annotated[int, Param(ge=0)] = 0,
) -> ModelPackage:
    """Logistic regression (scikit-learn), binary or multiclass.

    Features are standardized first unless ``standardize`` is false, which helps the solver
    converge; the scaler is part of the model, so prediction applies it too.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> frame = load_breast_cancer(as_frame=True).frame
    >>> model = logistic_regression(frame, label="target")
    >>> model.task, len(model.features)
    ('binary', 30)
    """
    solver = "saga" if penalty in ("l1", "elasticnet") else "lbfgs"
    estimator = LogisticRegression(
        C=C,
        l1_ratio=(0.0 if penalty in ("l2", "none") else 1.0 if penalty == "l1" else l1_ratio),
        max_iter=max_iter,
        fit_intercept=fit_intercept,
        class_weight=None if class_weight == "none" else class_weight,
        solver=solver,
        random_state=seed,
    )
    if penalty == "none":
        estimator.set_params(C=float("inf"))
    model = make_pipeline(StandardScaler(), estimator) if standardize else estimator
    params = {"C": C, "penalty": penalty, "max_iter": max_iter, "standardize": standardize}
    return fit_supervised(model, data, label=label, features=features, kind="classification", params=params, sample_weight=sample_weight)


classifier = functools.partial(supervised, kind="classification", module=__name__)

CLASS_WEIGHT = hyper("'balanced' weighs classes inversely to their frequency")
REGULARIZATION = tuned("inverse regularization strength: smaller is simpler", 1e-3, 1e3, log=True)
MAX_FEATURES = hyper("features tried at each split: sqrt or log2 of their number, or all", choices={"sqrt": "sqrt", "log2": "log2", "all": None})

# -- linear models --------------------------------------------------------------------------------

linear_svm = classifier(
    "classification.linear_svm",
    svm.LinearSVC,
    title="Linear SVM",
    summary="Linear support vector machine (scikit-learn LinearSVC, liblinear), binary or multiclass (one-vs-rest).",
    hypers={"C": REGULARIZATION, "penalty": hyper("regularization: l2 (usual) or l1 (sparse weights)"), "loss": hyper("hinge or squared hinge"),
            "fit_intercept": hyper("learn an intercept"), "class_weight": CLASS_WEIGHT, "max_iter": hyper("iterations of the solver")},
    standardize=True,
)

kernel_svm = classifier(
    "classification.kernel_svm",
    svm.SVC,
    title="Kernel SVM",
    summary="Support vector machine with a kernel (scikit-learn SVC, libsvm): RBF, polynomial, sigmoid or linear.",
    details="Multiclass problems are solved one-vs-one. Training costs grow with the square of the rows; prefer linear_svm above some 50 000 rows.",
    hypers={
        "C": REGULARIZATION,
        "kernel": hyper("kernel function", choices=("rbf", "poly", "sigmoid", "linear")),
        "gamma": tuned("kernel coefficient; empty: 1 / (features × variance)", 1e-4, 10, log=True, kind=float, empty="scale"),
        "degree": hyper("degree of the polynomial kernel"),
        "coef0": hyper("independent term of the poly and sigmoid kernels"),
        "class_weight": CLASS_WEIGHT,
    },
    standardize=True,
)

sgd = classifier(
    "classification.sgd",
    linear_model.SGDClassifier,
    title="SGD Classifier",
    summary="A linear classifier trained by stochastic gradient descent (scikit-learn SGDClassifier); scales to many rows.",
    details="The loss picks the model: log_loss is logistic regression, hinge a linear SVM, modified_huber a smooth SVM that still gives probabilities.",
    hypers={
        "loss": hyper("loss function", choices=("log_loss", "hinge", "modified_huber", "squared_hinge", "perceptron"), default="log_loss"),
        "penalty": hyper("regularization"),
        "alpha": tuned("regularization strength", 1e-6, 1e-1, log=True),
        "l1_ratio": hyper("elastic-net mixing (penalty=elasticnet)"),
        "max_iter": hyper("passes over the data at most"),
        "learning_rate": hyper("step-size schedule", choices=("optimal", "constant", "invscaling", "adaptive")),
        "eta0": hyper("initial step size (constant, invscaling, adaptive)"),
        "class_weight": CLASS_WEIGHT,
    },
    standardize=True,
)

ridge = classifier(
    "classification.ridge",
    linear_model.RidgeClassifier,
    title="Ridge Classifier",
    summary="Least-squares classifier with an L2 penalty (scikit-learn RidgeClassifier): fast and robust on many features.",
    hypers={"alpha": tuned("regularization strength", 1e-3, 1e3, log=True), "fit_intercept": hyper("learn an intercept"), "class_weight": CLASS_WEIGHT},
    standardize=True,
)


def _linear_discriminant_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    if arguments["shrinkage"] is not None and arguments["solver"] == "svd":
        raise ParameterError("parameter 'shrinkage' needs solver 'lsqr' or 'eigen' (the 'svd' solver does not shrink)")
    return arguments


linear_discriminant = classifier(
    "classification.linear_discriminant",
    discriminant_analysis.LinearDiscriminantAnalysis,
    title="Linear Discriminant Analysis",
    summary="Linear discriminant analysis (scikit-learn): Gaussian classes sharing one covariance, so linear boundaries.",
    hypers={"solver": hyper("svd (no covariance matrix), lsqr or eigen (both allow shrinkage)"),
            "shrinkage": tuned("covariance shrinkage from 0 (none) to 1; empty: none", 0.0, 1.0, kind=float)},
    adapt=_linear_discriminant_arguments,
)

quadratic_discriminant = classifier(
    "classification.quadratic_discriminant",
    discriminant_analysis.QuadraticDiscriminantAnalysis,
    title="Quadratic Discriminant Analysis",
    summary="Quadratic discriminant analysis (scikit-learn): one Gaussian per class with its own covariance.",
    hypers={"reg_param": tuned("regularizes each class covariance towards the identity", 0.0, 1.0)},
)

# -- trees and ensembles --------------------------------------------------------------------------

decision_tree = classifier(
    "classification.decision_tree",
    tree.DecisionTreeClassifier,
    title="Decision Tree",
    summary="A single CART decision tree (scikit-learn DecisionTreeClassifier); readable, handles missing values.",
    hypers={"criterion": hyper("split quality measure"), "max_depth": MAX_DEPTH, "min_samples_split": hyper("fewest rows a node needs to be split", kind=int),
            "min_samples_leaf": MIN_LEAF, "max_features": hyper("features tried at each split", choices={"all": None, "sqrt": "sqrt", "log2": "log2"}),
            "ccp_alpha": hyper("cost-complexity pruning strength"), "class_weight": CLASS_WEIGHT},
)

_FOREST = {"n_estimators": N_TREES, "criterion": hyper("split quality measure"), "max_depth": MAX_DEPTH, "min_samples_leaf": MIN_LEAF,
           "max_features": MAX_FEATURES, "bootstrap": hyper("draw a bootstrap sample of rows for each tree"),
           "class_weight": hyper("'balanced' weighs classes inversely to their frequency ('balanced_subsample': per bootstrap sample)")}

random_forest = classifier(
    "classification.random_forest",
    ensemble.RandomForestClassifier,
    title="Random Forest",
    summary="A random forest (scikit-learn RandomForestClassifier): many decorrelated trees whose probabilities are averaged.",
    details="Each tree sees a bootstrap sample of rows and a random subset of features at each split. Missing values are allowed.",
    hypers=_FOREST,
)

extra_trees = classifier(
    "classification.extra_trees",
    ensemble.ExtraTreesClassifier,
    title="Extra Trees",
    summary="Extremely randomized trees (scikit-learn ExtraTreesClassifier): like a random forest, with random split thresholds.",
    hypers=_FOREST,
)

adaboost = classifier(
    "classification.adaboost",
    ensemble.AdaBoostClassifier,
    title="AdaBoost",
    summary="AdaBoost over decision stumps (scikit-learn AdaBoostClassifier, SAMME): each stump focuses on the rows the previous ones got wrong.",
    hypers={"n_estimators": tuned("number of boosting rounds", 10, 500, log=True), "learning_rate": tuned("weight of each stump", 0.01, 2.0, log=True)},
)

gradient_boosting = classifier(
    "classification.gradient_boosting",
    ensemble.GradientBoostingClassifier,
    title="Gradient Boosting",
    summary="Classic gradient-boosted trees (scikit-learn GradientBoostingClassifier); exact splits, best on small tables.",
    hypers={"n_estimators": tuned("number of boosting rounds", 20, 1000, log=True), "learning_rate": tuned("shrinkage of each tree", 0.01, 0.5, log=True),
            "max_depth": tuned("depth of each tree", 1, 10), "min_samples_leaf": MIN_LEAF, "subsample": tuned("share of rows each tree sees", 0.5, 1.0)},
)

hist_gradient_boosting = classifier(
    "classification.hist_gradient_boosting",
    ensemble.HistGradientBoostingClassifier,
    title="Histogram Gradient Boosting",
    summary="Histogram-based gradient boosting (scikit-learn HistGradientBoostingClassifier), LightGBM-style; handles missing values.",
    details="Early stopping 'auto' holds out 10% of the rows when the table has more than 10 000 rows.",
    hypers={
        "learning_rate": tuned("shrinkage of each tree", 0.01, 0.3, log=True),
        "max_iter": tuned("number of boosting rounds", 50, 1000, log=True),
        "max_leaf_nodes": tuned("most leaves per tree; empty: no limit", 8, 128, log=True),
        "max_depth": hyper("deepest a tree may grow; empty: no limit"),
        "min_samples_leaf": tuned("fewest rows in a leaf", 5, 100, log=True),
        "l2_regularization": tuned("L2 penalty on leaf values", 1e-6, 10.0, log=True),
        "early_stopping": hyper("stop when a held-out score stops improving", choices={"auto": "auto", "on": True, "off": False}),
        "class_weight": CLASS_WEIGHT,
    },
)


lightgbm = classifier(
    "classification.lightgbm",
    lightgbm_estimator("classification"),
    title="LightGBM",
    summary="Gradient-boosted trees with LightGBM: fast on large tables, handles missing values.",
    details="The model is stored in LightGBM's own text format. Missing values go to the side of each split that fits best.",
    hypers=LIGHTGBM,
    **LIGHTGBM_CAPABILITIES,
)

xgboost = classifier(
    "classification.xgboost",
    xgboost_estimator("classification"),
    title="XGBoost",
    summary="Gradient-boosted trees with XGBoost (histogram method): handles missing values.",
    details="Labels of any type are encoded as 0..k-1 for XGBoost and mapped back. The model is stored in XGBoost's JSON format.",
    hypers=XGBOOST,
    encode_labels=True,
    **XGBOOST_CAPABILITIES,
)

# -- naive Bayes, neighbours, networks --------------------------------------------------------------

SMOOTHING = tuned("additive (Laplace) smoothing", 1e-3, 10.0, log=True)
# The tiny 'mixed' sample's non-negative integer columns stand in for counts.
COUNT_SAMPLE: dict[str, Any] = {"sample": "mixed", "sample_params": {"features": ["n1", "id"]}}

gaussian_naive_bayes = classifier(
    "classification.gaussian_naive_bayes",
    naive_bayes.GaussianNB,
    title="Gaussian Naive Bayes",
    summary="Gaussian naive Bayes (scikit-learn GaussianNB): each feature normal within a class, features independent.",
    hypers={"var_smoothing": tuned("share of the largest variance added to every variance", 1e-12, 1e-3, log=True)},
)

multinomial_naive_bayes = classifier(
    "classification.multinomial_naive_bayes",
    naive_bayes.MultinomialNB,
    title="Multinomial Naive Bayes",
    summary="Multinomial naive Bayes (scikit-learn MultinomialNB) for counts, such as word counts; features must be non-negative.",
    hypers={"alpha": SMOOTHING, "fit_prior": hyper("learn class priors (else uniform)")},
    **COUNT_SAMPLE,
)

complement_naive_bayes = classifier(
    "classification.complement_naive_bayes",
    naive_bayes.ComplementNB,
    title="Complement Naive Bayes",
    summary="Complement naive Bayes (scikit-learn ComplementNB): multinomial NB fitted on each class's complement, better on imbalanced text.",
    hypers={"alpha": SMOOTHING, "norm": hyper("normalize the weights a second time"), "fit_prior": hyper("learn class priors (used with one class only)")},
    **COUNT_SAMPLE,
)

bernoulli_naive_bayes = classifier(
    "classification.bernoulli_naive_bayes",
    naive_bayes.BernoulliNB,
    title="Bernoulli Naive Bayes",
    summary="Bernoulli naive Bayes (scikit-learn BernoulliNB) for binary features; others are binarized at a threshold.",
    hypers={"alpha": SMOOTHING, "binarize": hyper("values above it count as 1; empty: features are already 0/1"), "fit_prior": hyper("learn class priors (else uniform)")},
)

k_nearest_neighbors = classifier(
    "classification.k_nearest_neighbors",
    neighbors.KNeighborsClassifier,
    title="k-Nearest Neighbours",
    summary="k-nearest-neighbour vote (scikit-learn KNeighborsClassifier): a row takes the classes of the training rows closest to it.",
    hypers={"n_neighbors": tuned("neighbours that vote", 1, 50, log=True), "weights": hyper("uniform votes, or weighted by 1 / distance"),
            "metric": hyper("distance", choices=("minkowski", "euclidean", "manhattan", "chebyshev", "cosine")), "p": hyper("power of the Minkowski distance", kind=float)},
    standardize=True,
)


mlp = classifier(
    "classification.mlp",
    neural_network.MLPClassifier,
    title="Multilayer Perceptron",
    summary="A fully connected neural network (scikit-learn MLPClassifier) trained with Adam.",
    details="The hidden layers all have ``hidden_units`` neurons. For bigger networks and GPUs use the neural-network tools.",
    hypers=NETWORK,
    adapt=network_arguments,
    standardize=True,
)

factorization_machine = classifier(
    "classification.factorization_machine",
    FactorizationMachineClassifier,
    title="Factorization Machine",
    summary="A second-order factorization machine (Tidal's numpy implementation): linear terms plus factorized pairwise interactions.",
    details="""
        Each feature gets a vector of ``n_factors`` numbers; the interaction of two features is
        the dot product of their vectors, so interactions are learned even for pairs rarely seen
        together (sparse, one-hot data). Trained by mini-batch Adam on the logistic (binary) or
        softmax (multiclass) loss; the seed fixes initial factors and batch order.
    """,
    hypers={
        "n_factors": tuned("length of each feature's factor vector", 2, 64, log=True),
        "learning_rate": tuned("Adam step size", 1e-3, 0.1, log=True),
        "epochs": tuned("passes over the data", 5, 200, log=True),
        "batch_size": hyper("rows per gradient step"),
        "l2": tuned("L2 penalty on weights and factors", 1e-8, 1e-1, log=True),
    },
    standardize=True,
)
