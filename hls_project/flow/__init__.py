"""The pipeline, one way: ``pipeline.run_flow`` (config -> trained Keras
model -> hls4ml graph -> written C++ project -> g++ csim -> report, as a
list of named stages), ``convert`` (hls4ml config and conversion through
``hls_project.ext``), ``csim`` (the g++ build and run), ``vendor``
(vivado_hls / vitis-run when present) and ``sweep`` (one flow per width)."""
