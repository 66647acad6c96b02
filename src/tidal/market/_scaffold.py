'''``tidal components new NAME``: a plug-in project that builds, installs and passes its own tests as generated.

NAME is the distribution name (``acme-tools``); the import package and the component category
are NAME with ``-`` as ``_`` (``acme_tools``), and the ``tidal.components`` entry point is named
after the category, which is how Tidal ties a component id to a plug-in that failed to load.
'''

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from tidal.core._errors import TidalError

SCAFFOLD_NAME = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"

PYPROJECT = Template('''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$name"
version = "0.1.0"
description = "Tidal components: $category.*"
readme = "README.md"
license = "Apache-2.0"
requires-python = ">=3.11"
dependencies = ["tidal-ml", "pandas>=2.2"]

[project.optional-dependencies]
test = ["pytest>=8"]

# Tidal finds the components through this entry point; keep its name equal to the category
[project.entry-points."tidal.components"]
$category = "$package.components"

[tool.setuptools.packages.find]
where = ["src"]
''')

INIT = Template('''"""$name: components for Tidal (category ``$category``)."""

__version__ = "0.1.0"
''')

COMPONENTS = Template('''"""The $category components. Each is a typed function; Tidal derives forms, validation and docs from it."""

from __future__ import annotations

from typing import Annotated

import pandas as pd

from tidal import Column, Param, component
from tidal.core import DataError


@component(
    "$category.scale_column",
    title="Scale a column",
    tags={"sample": "mixed", "sample_params": {"column": "x1"}},
)
def scale_column(
    data: pd.DataFrame,
    *,
    column: Column,
    factor: Annotated[float, Param(help="what to multiply the column by")] = 2.0,
    output: Annotated[str, Param(help="name of the new column; empty to replace the column")] = "",
) -> pd.DataFrame:
    """Multiply a numeric column by ``factor``, into a new column or in place.

    Examples
    --------
    >>> frame = pd.DataFrame({"price": [1.0, 2.5]})
    >>> scale_column(frame, column="price", factor=10, output="price_x10")["price_x10"].tolist()
    [10.0, 25.0]
    """
    if column not in data.columns:
        raise DataError(f"column '{column}' is not in the table (columns: {', '.join(map(str, data.columns[:20]))})")
    if not pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column]):
        raise DataError(f"column '{column}' must be numeric to be scaled; it has dtype {data[column].dtype}")
    out = data.copy()
    out[output or column] = data[column] * factor
    return out
''')

TEST = Template('''"""Tidal's conformance suite over this package's components: the checks every component must pass."""

from tidal.conformance import parametrize_with_checks

COMPONENTS = ["$category.scale_column"]


@parametrize_with_checks(COMPONENTS)
def test_conformance(component_id, check):
    check()


def test_components_are_registered_by_this_package():
    from tidal import registry

    for component_id in COMPONENTS:
        assert registry.origins[component_id] == "$name"
''')

README = Template('''# $name

Components for Tidal (`pip install tidal-ml`), category `$category`:

| component | what it does |
| --- | --- |
| `$category.scale_column` | multiply a numeric column by a factor |

## Develop

```bash
pip install -e ".[test]"
pytest                                  # Tidal's conformance suite over every component
tidal components list -c $category      # the components, as Tidal sees them
```

## Publish to a market index

```bash
pip wheel --no-deps . -w dist/
sha256sum dist/*.whl                    # goes into the index entry with package, version, components, licence
```

See Tidal's `docs/market.md` for the index format and `tidal market verify $name`.
''')

CI = Template('''name: tests
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -e ".[test]"
      - run: pytest -q
      - run: pip wheel --no-deps . -w dist/
''')

GITIGNORE = "build/\ndist/\n*.egg-info/\n__pycache__/\n"


def scaffold_plugin(name: str, folder: Path | None = None) -> Path:
    """Write the plug-in project ``name`` into ``folder/name`` (default: the current folder); its root."""
    if not re.fullmatch(SCAFFOLD_NAME, name) or len(name) > 64:
        raise TidalError(f"'{name[:80]}' cannot name a plug-in: use lower-case letters, digits and single '-' between words, "
                         "starting with a letter (e.g. acme-tools), at most 64 characters")
    package = name.replace("-", "_")
    root = (folder or Path.cwd()) / name
    if root.exists() and any(root.iterdir()):
        raise TidalError(f"{root} already exists and is not empty; choose another --dir or NAME")
    values = {"name": name, "package": package, "category": package}
    files = {
        "pyproject.toml": PYPROJECT.substitute(values),
        f"src/{package}/__init__.py": INIT.substitute(values),
        f"src/{package}/components.py": COMPONENTS.substitute(values),
        "tests/test_conformance.py": TEST.substitute(values),
        "README.md": README.substitute(values),
        ".github/workflows/tests.yml": CI.substitute(values),
        ".gitignore": GITIGNORE,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
