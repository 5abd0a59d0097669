"""The locust load test: the locustfile (users that send a workload's transactions) and
``pavm loadtest``, which runs it headless and summarises what the chain mined
(``headless.py``)."""
