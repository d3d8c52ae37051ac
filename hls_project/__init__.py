"""hls4ml extension and the Keras -> HLS C++ -> csim flow."""
