"""The cached pipeline: the :class:`~harness.pipeline.build.Harness`, which builds every artifact a
claim reads or finds it in the store (``build``); what a run would build and how long that takes
(``plan``, ``throughput``); and the main job timed by stage (``stage_benchmark``)."""
