"""Training your own RM: samples (:mod:`~codescaler.training.generation`) -> verified candidates
(:mod:`~codescaler.training.candidates`) -> preference pairs (:mod:`~codescaler.training.pairs`) -> a
Bradley–Terry RM (:mod:`~codescaler.training.train`), or a head over a frozen backbone
(:mod:`~codescaler.training.head`)."""
