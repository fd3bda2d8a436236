"""What crosses the worker/engine process boundary: the `Engine` protocol, its messages, the
process engine and the choice between engines. Torch-free."""
