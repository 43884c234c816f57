"""The pacing ladder: sporadic refusals cost a short pause and reset the ladder; only
pacing that persists climbs it and then gives up."""

from __future__ import annotations

import random

from collector.pipeline.pacing import PacingLadder


def test_sporadic_refusals_never_give_up() -> None:
    ladder = PacingLadder((30.0, 60.0, 120.0, 240.0), 1.05)
    rng = random.Random(7)
    pauses = []
    for _ in range(2000):  # one request in five refused (the fault table's "pacing 20%")
        ladder.opened()
        if rng.random() < 0.2:
            ladder.refused()
            pauses.append(ladder.next_pause())
    assert pauses and all(p == 1.05 for p in pauses)
    assert ladder.steps == 0 and ladder.sporadic == len(pauses)


def test_persistent_pacing_climbs_the_ladder_then_gives_up() -> None:
    ladder = PacingLadder((30.0, 60.0), 1.05)
    pauses = []
    for _ in range(100):
        ladder.opened()
        ladder.refused()
        pauses.append(ladder.next_pause())
        if pauses[-1] is None:
            break
    # a few short pauses while the evidence builds up, then the ladder, then give up
    assert pauses[-3:] == [30.0, 60.0, None]
    assert set(pauses[:-3]) <= {1.05} and len(pauses) <= 30


def test_a_quiet_stretch_resets_the_ladder() -> None:
    ladder = PacingLadder((30.0, 60.0), 1.05, recent=10)
    for _ in range(5):
        ladder.opened()
        ladder.refused()
    assert ladder.next_pause() == 30.0
    for _ in range(10):
        ladder.opened()  # requests go through again
    ladder.refused()
    assert ladder.next_pause() == 1.05  # sporadic again: the ladder starts over
    for _ in range(10):
        ladder.opened()
        ladder.refused()
    assert ladder.next_pause() == 30.0
