"""The bench harness (stdlib only): venvs, noise measurement, the Cluster, the report.

`bench/run.py` is the entry point; see bench/README.md.
"""
