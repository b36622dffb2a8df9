"""What the demo's browser tests share: `demo`, the demo as bin/run starts it, stopped after the test."""

import pytest


@pytest.fixture
def demo():
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from demo.tests.demo_stack import start_demo

    stack = start_demo()
    yield stack
    stack.stop()
