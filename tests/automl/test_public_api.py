"""The public surface of tidal.automl is what __all__ lists, and every name in it exists."""

import tidal.automl


def test_all_names_exist_and_private_modules_stay_private():
    for name in tidal.automl.__all__:
        assert hasattr(tidal.automl, name), name
    assert sorted(tidal.automl.__all__) == sorted(set(tidal.automl.__all__))
    assert {"create_study", "resume_study", "SearchSpace", "Strategy", "make_strategy"} <= set(tidal.automl.__all__)
    assert not [name for name in tidal.automl.__all__ if name.startswith("_")]
