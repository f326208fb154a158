"""match() runs with the cyclic collector paused (trialscope.collector) and gives it back."""

from __future__ import annotations

import gc
import sys

from trialscope.collector import paused
from trialscope.match import match

from .conftest import HCC_NOTE


def test_no_collection_during_a_match_and_the_collector_is_back_after(store):
    match(store, HCC_NOTE, limit=5)  # warm: indexes opened, caches filled
    passes: list[int] = []

    def count(phase, info):  # the passes run from inside the match's own frames
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "match":
            frame = frame.f_back
        if phase == "start":
            passes.append(frame is not None)

    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # a pass at every allocation, were the collector on
    gc.callbacks.append(count)
    try:
        result = match(store, HCC_NOTE, limit=5)
        [[] for _ in range(10)]
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*thresholds)
    assert result.trials and passes and not any(passes) and gc.isenabled()  # passes again after it


def test_a_pause_inside_a_pause_leaves_the_collector_to_the_outer_one():
    assert gc.isenabled()
    with paused():
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()  # paused by someone else: left paused
    finally:
        gc.enable()
