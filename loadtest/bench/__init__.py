"""The benchmarks: ``pavm bench validate`` (one block in process, ``validate.py``), ``pavm
bench network`` (a whole testnet, ``network.py``), ``pavm bench paper`` (``paper/``) and
the per-core CPU sampling they share (``cpu.py``)."""
