"""The performance benchmark of DESIGN §10: `.venv/bin/python bench/run.py [--quick]`.

Not a test: nothing here is collected by pytest (no `test_*.py` file, and
`pytest.ini` testpaths do not include bench/), and nothing asserts.
"""
