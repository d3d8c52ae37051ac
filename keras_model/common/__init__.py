"""The plumbing every step of the flow shares, with no model, data or
hardware knowledge of its own:

* :mod:`.errors`: the one user-facing error type (``FlowError`` and its kinds,
  each with its exit code);
* :mod:`.config`: the YAML config: defaults, schema, one validation pass,
  where generated files go (``build/`` or ``--workdir``);
* :mod:`.logs`: progress and debug lines on stderr, quiet third-party chatter;
* :mod:`.keras2`: the Keras 2 API (``tf_keras``), imported one way everywhere;
* :mod:`.fixedtype`: the one parser of fixed-point type strings;
* :mod:`.atomic`: an output folder replaced only when complete.
"""
