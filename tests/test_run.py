"""Orchestration details that need no notebook run."""

from __future__ import annotations

import pytest

from evaluation.config import load_study
from evaluation.errors import ConfigError, UsageError
from evaluation.pipeline.run import report_languages
from tests.conftest import STUDY_YAML, write_study


def _study(tmp_path, extra: str = ""):
    return load_study(write_study(tmp_path, [], STUDY_YAML + extra))


def test_languages_default_to_the_study_language(tmp_path):
    assert report_languages(_study(tmp_path), None) == ["en"]


def test_configured_languages_put_the_study_language_first(tmp_path):
    study = _study(tmp_path, "reports: {languages: [fi, en]}\n")
    assert report_languages(study, None) == ["en", "fi"]


def test_command_line_overrides_the_configuration(tmp_path):
    study = _study(tmp_path, "reports: {languages: [fi, en]}\n")
    assert report_languages(study, "fi") == ["fi"]
    assert report_languages(study, "both") == ["en", "fi"]


def test_unknown_languages_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(UsageError, match="--language"):
        report_languages(_study(tmp_path), "sv")
    with pytest.raises(ConfigError, match=r"study.yaml.*sv"):
        report_languages(_study(tmp_path, "reports: {languages: [sv]}\n"), None)
