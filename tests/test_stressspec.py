"""The hardware stresses' input checks: one clear NawtError line for bad values, no torch."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from helpers import REPO

from nawt_core import stressspec as S
from nawt_core.errors import NawtError


@pytest.mark.parametrize("check,bad,words", [
    (S.check_rates, [-0.1], "[0, 1]"),
    (S.check_rates, [1.5], "[0, 1]"),
    (S.check_rates, [math.nan], "finite"),
    (S.check_rates, [math.inf], "finite"),
    (S.check_rates, ["x"], "numbers"),
    (S.check_rates, [], "at least one"),
    (S.check_times, [-1], "negative"),
    (S.check_times, [3600, -0.5], "negative"),
    (S.check_fractions, [1.01], "[0, 1]"),
    (S.check_fractions, [-0.1], "[0, 1]"),
    (S.check_bitflip_bits, 1, "2 to 16"),
    (S.check_bitflip_bits, 17, "2 to 16"),
    (S.check_bitflip_bits, 8.5, "2 to 16"),
    (S.check_bitflip_bits, "8", "2 to 16"),
    (S.check_bitflip_target, "lsb", "msb"),
    (S.check_stuck_value, "one", "zero, max or both"),
    (S.check_trials, 0, "trials"),
    (S.check_recalibrate, -1, "from 0 to 10000"),
        (S.check_recalibrate, 10_001, "from 0 to 10000"),
    (S.check_recalibrate, True, "from 0 to 10000"),
])
def test_bad_values_get_one_clear_line(check, bad, words):
    with pytest.raises(NawtError) as e:
        check(bad)
    msg = str(e.value)
    assert words in msg and "\n" not in msg


@pytest.mark.parametrize("kw", [{"samples": 0}, {"probes": 0}, {"iters": -1}, {"probes": 2.5}])
def test_bad_sharpness_settings_are_refused(kw):
    with pytest.raises(NawtError):
        S.check_sharpness(**kw)


def test_good_values_come_back_sorted_and_deduplicated():
    assert S.check_rates([1e-3, 0, 1e-3, 1]) == [0.0, 1e-3, 1.0]
    assert S.check_times([86400, 0, 1]) == [0.0, 1.0, 86400.0]
    assert S.check_fractions(["0.01", 0]) == [0.0, 0.01]
    assert S.check_bitflip_bits(2) == 2 and S.check_bitflip_bits(16) == 16 and S.check_bitflip_bits(8.0) == 8
    assert S.check_sharpness(1000, 32, 20) == (1000, 32, 20)
    assert S.check_recalibrate(0) == 0


def test_every_proposed_grid_passes_its_own_checks():
    for preset in ("paper", "cpu", "quick", "smoke"):
        assert S.check_rates(S.GRIDS["bitflip"][preset]["rates"])
        assert S.check_times(S.GRIDS["pcm"][preset]["times"])
        assert S.check_fractions(S.GRIDS["stuck"][preset]["fractions"])
        S.check_sharpness(**S.GRIDS["sharpness"][preset])
        for kind in ("bitflip", "pcm", "stuck"):
            S.check_trials(S.GRIDS[kind][preset]["trials"])


def test_the_spec_imports_no_torch():
    code = "import sys, nawt_core.stressspec; assert 'torch' not in sys.modules; print('OK')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.stdout.strip() == "OK", out.stderr[-1500:]
