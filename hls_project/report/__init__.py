"""The hardware report: ``assemble`` (``hardware_report.json`` from the
cost model of ``hls_project.accel``, the lint's result and any vendor or
RTL figures), ``figures`` (the per-layer figures of a converted model),
``markdown`` (the .md and the printed summary) and ``kinds`` (fdht / ht /
tt / dense side by side, with a plot)."""
