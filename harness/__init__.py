"""The library that builds and caches what the claims read: tasks (``data``), encoders and heads
(``models``), the training protocols (``training``), the cached pipeline and the store
(``pipeline``, ``store``), the analyses (``analysis``, ``directprobe``). Its layers, and the
contracts that keep them: docs/architecture.md."""
