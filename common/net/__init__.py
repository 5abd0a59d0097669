"""A node among others: how blocks and verdicts travel (``transport``), who belongs to a
network (``membership``, ``keyfile``), telling clients apart (``clients``), when blocks
arrived (``block_times``) and how a service is started (``service``)."""
