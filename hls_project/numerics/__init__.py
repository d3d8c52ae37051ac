"""What the fixed-point hardware computes, in Python: ``bitexact`` (a numpy
model of every ap_fixed operation of the generated C++: csim's bits),
``precision`` (stage types that cannot overflow), ``autoprec`` (the
narrowest types that keep the agreement), ``fidelity`` (logit-level
comparison with Keras) and ``profiling`` (value ranges against types)."""
