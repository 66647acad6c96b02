import marimo

app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _(mo):
    mo.md("# Pipeline `breast-cancer-notebook`\n\nThe demo pipeline on scikit-learn's bundled breast-cancer data (no file needed) - split, train logistic regression, score and evaluate.\n\nMade by `tidal export --to marimo`. The first cell builds the pipeline (the same graph as its YAML file, so the same cache); displayed, it draws the graph and lets you edit parameters in place. `tnb.run` runs it in the workspace with live progress; the cells after it show the results.")
    return


@app.cell
def _():
    import tidal
    import tidal.notebook as tnb
    from tidal.components.io_datasets import dataset as io_dataset
    from tidal.components.data import split as data_split
    from tidal.components.classification import logistic_regression as classification_logistic_regression
    from tidal.components.model import predict as model_predict
    from tidal.components.evaluation import binary_classification as evaluation_binary_classification
    return (tidal, tnb, io_dataset, data_split, classification_logistic_regression, model_predict, evaluation_binary_classification,)


@app.cell
def _(tidal, io_dataset, data_split, classification_logistic_regression, model_predict, evaluation_binary_classification):
    with tidal.Pipeline('breast-cancer-notebook') as pipeline:
        read = io_dataset(name='breast_cancer', _id="read")
        split = data_split(data=read, fraction=0.8, seed=42, stratify='target', _id="split")
        train = classification_logistic_regression(data=split.train, label='target', C=1.0, _id="train")
        score = model_predict(model=train, data=split.test, _id="score")
        eval_node = evaluation_binary_classification(data=score, label='target', _id="eval")
    pipeline.description = "The demo pipeline on scikit-learn's bundled breast-cancer data (no file needed) - split, train logistic regression, score and evaluate."
    pipeline
    return (pipeline,)


@app.cell
def _(pipeline, tnb):
    live = tnb.run(pipeline)
    live
    return (live,)


@app.cell
def _(live):
    result = live.wait()
    result
    return (result,)


@app.cell
def _(result):
    result.output('score')
    return


@app.cell
def _(result):
    result.output('train')
    return


@app.cell
def _(result):
    result.output('eval')
    return


if __name__ == "__main__":
    app.run()
