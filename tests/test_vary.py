"""Issue 23: `--vary METHOD.OPTION=v1,v2` expands a study's rows; bad input is one error line."""

import pytest

from nawt_core.errors import NawtError
from nawt_core.vary import expand, parse


def test_a_vary_makes_one_row_per_value_and_two_make_every_combination():
    rows = expand(["standard", "sam", "naive-noise"],
                  ["sam.rho=0.02,0.1", "naive-noise.noise-sigma=0.005,0.01", "sam.adaptive=true,false"])
    assert rows == ["standard",
                    "sam:rho=0.02:adaptive=true", "sam:rho=0.02:adaptive=false",
                    "sam:rho=0.1:adaptive=true", "sam:rho=0.1:adaptive=false",
                    "naive-noise:noise-sigma=0.005", "naive-noise:noise-sigma=0.01"]


def test_all_varies_a_common_option_in_every_row():
    assert expand(["standard", "sam:rho=0.1"], ["all.weight-decay=1e-4,5e-4"]) == [
        "standard:weight-decay=0.0001", "standard:weight-decay=0.0005",
        "sam:rho=0.1:weight-decay=0.0001", "sam:rho=0.1:weight-decay=0.0005"]


def test_values_are_parsed_by_the_options_kind():
    assert parse("multistep-sam.stages=2,4") == ("multistep-sam", "stages", [2, 4])
    assert parse("all.batch-size=64,128") == ("all", "batch_size", [64, 128])


@pytest.mark.parametrize("text,words", [
    ("sam.rho", "expected METHOD.OPTION=v1,v2"),
    ("nosuch.rho=0.1", "unknown method"),
    ("sam.noise-sigma=0.1", "sam has no option 'noise_sigma'"),
    ("all.rho=0.1", "all.OPTION varies one of"),
    ("sam.rho=abc", "rho takes numbers"),
    ("sam.rho=0.1,,0.2", "empty item"),
    ("sam.rho=0.1,0.1", "given twice"),
    ("sam.rho=-1", "rho"),
    ("multistep-sam.stages=1.5", "whole numbers"),
])
def test_bad_vary_is_one_clear_error(text, words):
    with pytest.raises(NawtError) as e:
        expand(["standard", "sam", "multistep-sam"], [text])
    assert words in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_vary_of_a_method_not_in_the_study_is_refused():
    with pytest.raises(NawtError, match="sam is not one of the study's methods"):
        expand(["standard"], ["sam.rho=0.1"])
    with pytest.raises(NawtError, match="varied twice"):
        expand(["sam"], ["sam.rho=0.1", "sam.rho=0.2"])
