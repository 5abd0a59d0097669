"""``pavm bench paper``: the paper's evaluation (section 6, Figs. 14-20) on this machine.

plan.py says which blocks each figure needs, measure.py times them (serial py-evm
against parallel validation, on the same transactions), figures.py draws one PNG per
figure, report.py writes report.md with the paper's numbers beside ours, and run.py
ties them together with progress and an ETA.
"""
