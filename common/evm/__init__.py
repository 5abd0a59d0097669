"""The chain's EVM: py-evm's Prague with pavm's recording account database
(``recording``), the paper's instructions (``instructions``), the fork-join
precompile (``subcalls``, ``forkjoin``, ``forkpoint``) and their gas (``gas_schedule``),
assembled as the forks a chain may run (``forks``)."""
