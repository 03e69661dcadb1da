"""``Services.start``/``stop``: loops in order, stopped in reverse; one set ``aside`` stops
alongside the others (``cinefuse serve``'s deliverer, whose stop waits out its poll)."""

from __future__ import annotations

import time
from typing import Any

from cinefuse.services import Services


class Loop:
    def __init__(self, name: str, log: list[str], stop_takes: float = 0.0) -> None:
        self.name, self.log, self.stop_takes = name, log, stop_takes

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        time.sleep(self.stop_takes)
        self.log.append(f"stop {self.name}")


def bare_services() -> Services:
    """Services with nothing but loops (the parts ``start``/``stop`` do not touch are stubs)."""
    runner: Any = type("Runner", (), {"work_dir": None})()
    none: Any = None
    return Services(none, none, none, none, none, runner, None)


def test_loops_stop_in_reverse_and_an_aside_loop_stops_alongside(monkeypatch: Any) -> None:
    monkeypatch.setattr("cinefuse.services.clean_stale_work_dirs", lambda work_dir: 0)
    log: list[str] = []
    services = bare_services()
    for name in ("presence", "writer", "workers"):
        services.add(Loop(name, log, stop_takes=0.2))
    services.add(Loop("deliverer", log, stop_takes=1.0), aside=True)
    services.start()
    assert log == ["start presence", "start writer", "start workers", "start deliverer"]
    log.clear()

    started = time.monotonic()
    services.stop()
    took = time.monotonic() - started
    assert [line for line in log if line != "stop deliverer"] == ["stop workers", "stop writer", "stop presence"]
    assert log[-1] == "stop deliverer"  # joined before stop returns
    assert took < 1.3, f"the loops' stops ran one after another: {took:.2f} s"  # 1.6 s in a row
