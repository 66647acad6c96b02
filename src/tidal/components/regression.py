"""Regression trainers. Each outputs a model package that ``model.predict`` scores.

Every trainer is declared over a library estimator with the :func:`supervised` factory (see
``_training.py``): bounds and choices of its parameters come from the library's own
constraints, capability tags from the estimator's own tags.
"""

from __future__ import annotations

import functools
from typing import Any

from sklearn import ensemble, linear_model, neighbors, neural_network, svm, tree
from sklearn.isotonic import IsotonicRegression

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
from tidal.components._training import supervised

regressor = functools.partial(supervised, kind="regression", module=__name__)

PENALTY = tuned("regularization strength", 1e-4, 1e2, log=True)
INTERCEPT = hyper("learn an intercept")
# GLMs for counts and positive amounts need a non-negative (gamma: positive) label: the tiny
# 'ratings' sample's 1-5 ratings.
POSITIVE_SAMPLE: dict[str, Any] = {"sample": "ratings", "sample_params": {"label": "rating"}}

# -- linear models --------------------------------------------------------------------------------

linear_regression = regressor(
    "regression.linear_regression",
    linear_model.LinearRegression,
    title="Linear Regression",
    summary="Ordinary least squares (scikit-learn LinearRegression).",
    hypers={"fit_intercept": INTERCEPT, "positive": hyper("force every coefficient to be zero or more")},
    example="""
        >>> from sklearn.datasets import load_diabetes
        >>> from {module} import {name}
        >>> frame = load_diabetes(as_frame=True).frame
        >>> model = {name}(frame, label="target")
        >>> round(float(model.model.score(frame.drop(columns="target"), frame["target"])), 3)
        0.518
    """,
)

ridge = regressor(
    "regression.ridge",
    linear_model.Ridge,
    title="Ridge Regression",
    summary="Least squares with an L2 penalty (scikit-learn Ridge).",
    hypers={"alpha": PENALTY, "fit_intercept": INTERCEPT},
    standardize=True,
)

lasso = regressor(
    "regression.lasso",
    linear_model.Lasso,
    title="Lasso",
    summary="Least squares with an L1 penalty (scikit-learn Lasso): drives weak coefficients to exactly zero.",
    hypers={"alpha": PENALTY, "fit_intercept": INTERCEPT, "max_iter": hyper("iterations of coordinate descent"), "positive": hyper("force coefficients to be zero or more")},
    standardize=True,
)

elastic_net = regressor(
    "regression.elastic_net",
    linear_model.ElasticNet,
    title="Elastic Net",
    summary="Least squares with a mix of L1 and L2 penalties (scikit-learn ElasticNet).",
    hypers={"alpha": PENALTY, "l1_ratio": tuned("share of the L1 penalty: 0 is ridge, 1 is lasso", 0.0, 1.0), "fit_intercept": INTERCEPT, "max_iter": hyper("iterations of coordinate descent")},
    standardize=True,
)

huber = regressor(
    "regression.huber",
    linear_model.HuberRegressor,
    title="Huber Regression",
    summary="Linear regression with the Huber loss (scikit-learn HuberRegressor): robust to outliers in the label.",
    details="Residuals smaller than ``epsilon`` scale units count squared, larger ones only linearly.",
    hypers={"epsilon": tuned("where the loss turns from squared to linear, in scale units", 1.0, 3.0), "alpha": tuned("L2 penalty", 1e-6, 1.0, log=True),
            "max_iter": hyper("iterations of the solver"), "fit_intercept": INTERCEPT},
    standardize=True,
)

quantile = regressor(
    "regression.quantile",
    linear_model.QuantileRegressor,
    title="Quantile Regression",
    summary="Linear quantile regression (scikit-learn QuantileRegressor): predicts a conditional quantile, the median by default.",
    hypers={"quantile": tuned("the quantile to predict", 0.05, 0.95), "alpha": hyper("L1 penalty", default=0.0), "fit_intercept": INTERCEPT},
    standardize=True,
)

_GLM = {"alpha": tuned("L2 penalty", 1e-4, 10.0, log=True), "fit_intercept": INTERCEPT, "solver": hyper("optimizer"), "max_iter": hyper("iterations of the solver")}

poisson = regressor(
    "regression.poisson",
    linear_model.PoissonRegressor,
    title="Poisson Regression",
    summary="Generalized linear model with a Poisson distribution and log link (scikit-learn PoissonRegressor), for counts.",
    details="The label must be zero or more.",
    hypers=_GLM,
    standardize=True,
    **POSITIVE_SAMPLE,
)

gamma = regressor(
    "regression.gamma",
    linear_model.GammaRegressor,
    title="Gamma Regression",
    summary="Generalized linear model with a gamma distribution and log link (scikit-learn GammaRegressor), for positive amounts.",
    details="The label must be above zero.",
    hypers=_GLM,
    standardize=True,
    **POSITIVE_SAMPLE,
)

tweedie = regressor(
    "regression.tweedie",
    linear_model.TweedieRegressor,
    title="Tweedie Regression",
    summary="Generalized linear model with a Tweedie distribution (scikit-learn TweedieRegressor), e.g. insurance claims: many zeros, skewed amounts.",
    details="``power`` picks the distribution: 0 normal, 1 Poisson, between 1 and 2 compound Poisson-gamma (default 1.5), 2 gamma, 3 inverse Gaussian.",
    hypers={"power": tuned("Tweedie power", 1.0, 2.0, default=1.5), "link": hyper("link function; auto: identity for power 0, log otherwise"), **_GLM},
    standardize=True,
    **POSITIVE_SAMPLE,
)

bayesian_ridge = regressor(
    "regression.bayesian_ridge",
    linear_model.BayesianRidge,
    title="Bayesian Ridge",
    summary="Bayesian ridge regression (scikit-learn BayesianRidge): the penalty strength is estimated from the data.",
    hypers={"max_iter": hyper("iterations at most"), "fit_intercept": INTERCEPT},
)

sgd = regressor(
    "regression.sgd",
    linear_model.SGDRegressor,
    title="SGD Regressor",
    summary="A linear model fitted by stochastic gradient descent (scikit-learn SGDRegressor); scales to many rows.",
    hypers={"loss": hyper("loss function", choices=("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")),
            "penalty": hyper("regularization"), "alpha": tuned("regularization strength", 1e-6, 1e-1, log=True), "l1_ratio": hyper("elastic-net mixing"),
            "max_iter": hyper("passes over the data at most"), "learning_rate": hyper("step-size schedule", choices=("invscaling", "constant", "optimal", "adaptive")),
            "eta0": hyper("initial step size")},
    standardize=True,
)

# -- kernels and neighbours -----------------------------------------------------------------------

svr = regressor(
    "regression.svr",
    svm.SVR,
    title="Support Vector Regression",
    summary="Support vector regression with a kernel (scikit-learn SVR, libsvm).",
    details="Errors smaller than ``epsilon`` cost nothing. Training costs grow with the square of the rows; prefer linear_svr on large tables.",
    hypers={"C": tuned("inverse regularization strength", 1e-2, 1e3, log=True), "epsilon": tuned("width of the no-penalty tube", 1e-3, 1.0, log=True),
            "kernel": hyper("kernel function", choices=("rbf", "poly", "sigmoid", "linear")),
            "gamma": tuned("kernel coefficient; empty: 1 / (features × variance)", 1e-4, 10, log=True, kind=float, empty="scale"),
            "degree": hyper("degree of the polynomial kernel")},
    standardize=True,
)

linear_svr = regressor(
    "regression.linear_svr",
    svm.LinearSVR,
    title="Linear SVR",
    summary="Linear support vector regression (scikit-learn LinearSVR, liblinear); scales to many rows.",
    hypers={"C": tuned("inverse regularization strength", 1e-3, 1e3, log=True), "epsilon": hyper("width of the no-penalty tube"),
            "loss": hyper("L1 or L2 epsilon-insensitive loss"), "fit_intercept": INTERCEPT, "max_iter": hyper("iterations of the solver")},
    standardize=True,
)

k_nearest_neighbors = regressor(
    "regression.k_nearest_neighbors",
    neighbors.KNeighborsRegressor,
    title="k-Nearest Neighbours Regression",
    summary="k-nearest-neighbour regression (scikit-learn KNeighborsRegressor): the mean label of the closest training rows.",
    hypers={"n_neighbors": tuned("neighbours averaged", 1, 50, log=True), "weights": hyper("uniform, or weighted by 1 / distance"),
            "metric": hyper("distance", choices=("minkowski", "euclidean", "manhattan", "chebyshev", "cosine")), "p": hyper("power of the Minkowski distance", kind=float)},
    standardize=True,
)

mlp = regressor(
    "regression.mlp",
    neural_network.MLPRegressor,
    title="Multilayer Perceptron Regression",
    summary="A fully connected neural network (scikit-learn MLPRegressor) trained with Adam on the squared error.",
    hypers=NETWORK,
    adapt=network_arguments,
    standardize=True,
)

isotonic = regressor(
    "regression.isotonic",
    IsotonicRegression,
    title="Isotonic Regression",
    summary="Isotonic regression (scikit-learn IsotonicRegression): the best monotone step function of one feature.",
    details="Beyond the training range predictions are clipped to the nearest fitted value by default.",
    hypers={"increasing": hyper("fit an increasing (else decreasing) function", default=True, kind=bool),
            "out_of_bounds": hyper("outside the training range: clip to the ends, give NaN, or raise", default="clip")},
    single_feature=True,
    sample_params={"feature": "x1"},
    example="""
        >>> import pandas as pd
        >>> from {module} import {name}
        >>> frame = pd.DataFrame({{"dose": [1, 2, 3, 4, 5], "effect": [1.0, 3.0, 2.0, 4.0, 5.0]}})
        >>> {name}(frame, label="effect", feature="dose").predict(frame).tolist()
        [1.0, 2.5, 2.5, 4.0, 5.0]
    """,
)

# -- trees and ensembles --------------------------------------------------------------------------

decision_tree = regressor(
    "regression.decision_tree",
    tree.DecisionTreeRegressor,
    title="Decision Tree Regression",
    summary="A single CART regression tree (scikit-learn DecisionTreeRegressor); handles missing values.",
    hypers={"criterion": hyper("split quality measure"), "max_depth": MAX_DEPTH, "min_samples_split": hyper("fewest rows a node needs to be split", kind=int),
            "min_samples_leaf": MIN_LEAF, "ccp_alpha": hyper("cost-complexity pruning strength")},
)

_FOREST = {"n_estimators": N_TREES, "criterion": hyper("split quality measure"), "max_depth": MAX_DEPTH, "min_samples_leaf": MIN_LEAF,
           "max_features": hyper("features tried at each split (regression default: all)", choices={"all": 1.0, "sqrt": "sqrt", "log2": "log2"}),
           "bootstrap": hyper("draw a bootstrap sample of rows for each tree")}

random_forest = regressor(
    "regression.random_forest",
    ensemble.RandomForestRegressor,
    title="Random Forest Regression",
    summary="A random forest (scikit-learn RandomForestRegressor): the average of many decorrelated regression trees.",
    hypers=_FOREST,
)

extra_trees = regressor(
    "regression.extra_trees",
    ensemble.ExtraTreesRegressor,
    title="Extra Trees Regression",
    summary="Extremely randomized trees (scikit-learn ExtraTreesRegressor): like a random forest, with random split thresholds.",
    hypers=_FOREST,
)

adaboost = regressor(
    "regression.adaboost",
    ensemble.AdaBoostRegressor,
    title="AdaBoost Regression",
    summary="AdaBoost.R2 over depth-3 regression trees (scikit-learn AdaBoostRegressor).",
    hypers={"n_estimators": tuned("number of boosting rounds", 10, 500, log=True), "learning_rate": tuned("weight of each tree", 0.01, 2.0, log=True),
            "loss": hyper("how errors update the row weights")},
)

gradient_boosting = regressor(
    "regression.gradient_boosting",
    ensemble.GradientBoostingRegressor,
    title="Gradient Boosting Regression",
    summary="Classic gradient-boosted trees (scikit-learn GradientBoostingRegressor); exact splits, best on small tables.",
    hypers={"loss": hyper("loss function", choices=("squared_error", "absolute_error", "huber")),
            "n_estimators": tuned("number of boosting rounds", 20, 1000, log=True), "learning_rate": tuned("shrinkage of each tree", 0.01, 0.5, log=True),
            "max_depth": tuned("depth of each tree", 1, 10), "min_samples_leaf": MIN_LEAF, "subsample": tuned("share of rows each tree sees", 0.5, 1.0)},
)

hist_gradient_boosting = regressor(
    "regression.hist_gradient_boosting",
    ensemble.HistGradientBoostingRegressor,
    title="Histogram Gradient Boosting Regression",
    summary="Histogram-based gradient boosting (scikit-learn HistGradientBoostingRegressor), LightGBM-style; handles missing values.",
    details="Early stopping 'auto' holds out 10% of the rows when the table has more than 10 000 rows.",
    hypers={
        "loss": hyper("loss function; poisson and gamma need a positive label", choices=("squared_error", "absolute_error", "gamma", "poisson")),
        "learning_rate": tuned("shrinkage of each tree", 0.01, 0.3, log=True),
        "max_iter": tuned("number of boosting rounds", 50, 1000, log=True),
        "max_leaf_nodes": tuned("most leaves per tree; empty: no limit", 8, 128, log=True),
        "max_depth": hyper("deepest a tree may grow; empty: no limit"),
        "min_samples_leaf": tuned("fewest rows in a leaf", 5, 100, log=True),
        "l2_regularization": tuned("L2 penalty on leaf values", 1e-6, 10.0, log=True),
        "early_stopping": hyper("stop when a held-out score stops improving", choices={"auto": "auto", "on": True, "off": False}),
    },
)

lightgbm = regressor(
    "regression.lightgbm",
    lightgbm_estimator("regression"),
    title="LightGBM Regression",
    summary="Gradient-boosted regression trees with LightGBM: fast on large tables, handles missing values.",
    details="The model is stored in LightGBM's own text format.",
    hypers=LIGHTGBM,
    **LIGHTGBM_CAPABILITIES,
)

xgboost = regressor(
    "regression.xgboost",
    xgboost_estimator("regression"),
    title="XGBoost Regression",
    summary="Gradient-boosted regression trees with XGBoost (histogram method, squared error): handles missing values.",
    details="The model is stored in XGBoost's JSON format.",
    hypers=XGBOOST,
    **XGBOOST_CAPABILITIES,
)
