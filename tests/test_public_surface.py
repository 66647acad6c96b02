"""The public surface of every package is exactly what its ``__all__`` lists, and each name resolves.

Adding or removing a public name is a decision: update SURFACE below in the same change.
"""

from __future__ import annotations

import importlib

import pytest

SURFACE: dict[str, list[str]] = {'tidal': ['CodeNotAllowed', 'Column', 'Columns', 'ComponentSpec', 'DataError', 'Figure', 'InputFile',
           'Issue', 'LazyTable', 'Metrics', 'ModelPackage', 'ModelRegistry', 'NotFound', 'OutputFile',
           'Param', 'Pipeline', 'Port', 'RunResult', 'Table', 'TidalError', 'ValidationFailed', 'Workspace',
           'YamlError', '__version__', 'component', 'get_component', 'load_model', 'load_pipeline',
           'registry', 'resolve_model_uri', 'resume_run', 'run', 'validate'],
 'tidal.core': ['CodeNotAllowed', 'Column', 'Columns', 'ComponentSpec', 'DataError', 'Figure', 'InputFile',
                'Issue', 'LazyTable', 'Metrics', 'NotFound', 'OutputFile', 'Param', 'ParamSpec',
                'ParameterError', 'Port', 'PortSpec', 'Registry', 'Resources', 'RunFailed', 'Table', 'TidalError',
                'UnsafeModelError', 'ValidationFailed', 'YamlError', 'YamlLimits', 'check_nesting',
                'component', 'get_component', 'load_yaml', 'load_yaml_file', 'read_yaml_text', 'registry'],
 'tidal.models': ['ArchiveLimits', 'ExportRefused', 'ExportReport', 'FLAVORS', 'Flavor', 'ModelPackage',
                  'ModelReference', 'ModelRegistry', 'ModelVersion', 'PackageRefused', 'RegisteredModel',
                  'TRUSTED_SKOPS_TYPES', 'allow_skops_types', 'export_model', 'load_model', 'parse_model_uri',
                  'read_package_manifest', 'register_flavor', 'resolve_model_uri'],
 'tidal.nn': ['KINDS', 'LayerIssue', 'LayerKind', 'LayerShapes', 'LayerSpec', 'NETWORK_SCHEMA', 'NetworkError',
              'NetworkModel', 'NetworkShapes', 'NetworkSpec', 'ParamDef', 'SubNetwork', 'TensorSpec', 'TensorType',
              'TrainSettings', 'TrainingResult', 'build_module', 'from_module', 'infer_shapes', 'inline_modules',
              'inline_network', 'load_network',
              'network_package', 'parse_network', 'prunable_layers', 'prune_network', 'pruning_plan', 'same_structure',
              'to_source', 'train_network', 'validate_network'],
 'tidal.optimize': ['CosineBound', 'CpuInfo', 'EncoderParts', 'LossBound', 'Measurement', 'OptimizeRefused',
                    'OptimizeResult', 'Pick',
                    'SUPPORTED_FLAVORS', 'Timing', 'Variant', 'check_onnx_file', 'cpu_info', 'optimize_model',
                    'pick', 'report_digest', 'report_headline', 'report_table'],
 'tidal.pipeline': ['Node', 'NodeHandle', 'OutputHandle', 'PIPELINE_SCHEMA', 'Pipeline', 'Ref', 'check',
                    'from_python', 'load_pipeline', 'parse_pipeline', 'save_pipeline', 'to_python',
                    'validate'],
 'tidal.runtime': ['Executor', 'InlineExecutor', 'LocalExecutor', 'NodeContext', 'NodeTask', 'RayExecutor', 'RunEvent',
                   'RunResult', 'TaskResult', 'check_code_allowed', 'code_nodes', 'current_node', 'effective_status', 'make_executor',
                   'parse_override', 'ray_data_steps', 'resume_run', 'run_pipeline'],
 'tidal.store': ['ArtifactRecord', 'ArtifactStore', 'MetadataStore', 'NodeRunRecord', 'RunRecord',
                 'Workspace', 'file_digest', 'find_workspace'],
 'tidal.serving': ['Batcher', 'BatchingConfig', 'LoadFailed', 'LocalService', 'ModelRepository', 'ModelServer',
                   'ModelSpec', 'Overloaded', 'PackageProcessor', 'Processor', 'RequestInvalid', 'ServerOptions',
                   'ServiceSpec', 'Signature', 'custom_package', 'deploy', 'load_processor', 'load_service',
                   'metrics_summary', 'onnx_package', 'pipeline_package', 'pmml_package', 'render_kubernetes',
                   'request_rate', 'serve'],
 'tidal.automl': ['Dimension', 'EvolutionarySearch', 'GridSearch', 'ITERATIVE', 'IterativeTrainer', 'METRICS',
                  'MedianRule', 'PopulationBasedTraining', 'Pruner', 'RandomSearch', 'STRATEGIES',
                  'SearchSpace', 'SpaceError', 'Strategy', 'Study', 'StudyEvent', 'StudyRecord', 'StudyStore',
                  'SuccessiveHalving', 'Suggestion', 'TPESearch', 'TrialRecord', 'choice', 'create_study',
                  'effective_status', 'iterative_trainer', 'list_studies', 'load_study', 'loguniform',
                  'make_pruner', 'make_strategy', 'randint', 'resume_study', 'score_model', 'uniform'],
 'tidal.stream': ['ADWIN', 'CheckpointError', 'DriftAdaptive', 'FTRLLogisticRegression', 'FeatureHasher',
                  'JobError', 'JobSpec', 'LEARNERS', 'OnlineGaussianNB', 'OnlineLinearRegression',
                  'OnlineStandardScaler', 'PageHinkley', 'QuantileSketch', 'RiverEstimator', 'STEPS',
                  'StateError', 'StreamJob', 'StreamModel', 'StreamingKMeans', 'StreamingStats', 'job_status',
                  'list_jobs', 'parse_job', 'read_job', 'restore'],
 'tidal.market': ['INDEX_SCHEMA', 'INDEX_VARIABLE', 'IndexEntry', 'InstallResult', 'MarketIndex', 'MarketRefused',
                  'PluginInfo', 'Verification', 'install_package', 'installed_plugins', 'load_index', 'read_records',
                  'remove_package', 'scaffold_plugin', 'verify_plugin'],
 'tidal.studio': ['create_app', 'serve', 'studio_url'],
 'tidal.cli': ['app', 'main'],
 'tidal.conformance': ['CHECKS', 'ConformanceError', 'EXPECTED_FAILURES', 'Sample', 'parametrize_with_checks',
                       'run_checks', 'sample_call', 'sample_for', 'sample_model', 'yield_checks']}


@pytest.mark.parametrize("package", sorted(SURFACE))
def test_public_names_are_exactly_the_listed_ones(package):
    module = importlib.import_module(package)
    assert sorted(module.__all__) == SURFACE[package]
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert not name.startswith("_") or name == "__version__"
        assert getattr(module, name) is not None
