"""The typed schemas of the ``ferry.yaml`` sections that belong to a feature (``builds:``, ``releases:``).

:mod:`ferry.config` validates the whole file when it is loaded, so it needs these
types; the features need them too. They live here, apart from the features'
code, so that loading the config imports no feature package (an import-linter
contract in ``pyproject.toml`` holds that). A schema may use only leaves: value
types and pure parsers that import no feature code.
"""
