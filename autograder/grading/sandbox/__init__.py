"""Sandbox: the student's code runs in a separate worker process; tests talk to it through proxies."""
