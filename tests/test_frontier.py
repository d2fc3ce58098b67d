"""Issue 23: the Pareto front of a hand-made point set is exact (ties, dominated points)."""

from nawt_core.frontier import Point, along_front, dominated_by, front


def _labels(points):
    return [p.label for p in points]


def test_the_front_of_a_hand_made_set():
    pts = [Point("std", 0.92, 0.40), Point("sam.02", 0.93, 0.45), Point("sam.1", 0.91, 0.60),
           Point("naive.1", 0.14, 0.10), Point("inj.05", 0.90, 0.55), Point("inj.1", 0.88, 0.70)]
    # std is beaten by sam.02 (better in both); inj.05 by sam.1 (0.91 > 0.90, 0.60 > 0.55); naive by all
    assert _labels(front(pts)) == ["sam.02", "sam.1", "inj.1"]
    beaten = dominated_by(pts)
    assert beaten["std"] == ["sam.02"] and beaten["inj.05"] == ["sam.1"]
    assert sorted(beaten["naive.1"]) == ["inj.05", "inj.1", "sam.02", "sam.1", "std"]
    assert [(p.label, on) for p, on in along_front(pts)][3:] == [("std", False), ("inj.05", False), ("naive.1", False)]


def test_ties_stay_on_the_front_and_equal_in_one_axis_is_dominated():
    a, b = Point("a", 0.9, 0.5), Point("b", 0.9, 0.5)  # the same point twice: neither dominates
    c = Point("c", 0.9, 0.4)  # as accurate as a, less robust: dominated
    d = Point("d", 0.95, 0.4)  # more accurate than a: on the front even though c ties it in robustness
    assert _labels(front([a, b, c, d])) == ["d", "a", "b"]
    assert dominated_by([a, b, c, d])["c"] == ["a", "b", "d"]


def test_one_point_and_none():
    assert _labels(front([Point("only", 0.5, 0.1)])) == ["only"]
    assert front([]) == []
