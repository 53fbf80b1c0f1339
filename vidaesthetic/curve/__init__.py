"""The score curve of a video: scoring frames (``scoring``, ``fast``), the measurements every frame
gets whatever the model (``framestats``), shots and never-pickable frames (``shots``), Kalman
smoothing (``smoothing``), the peaks as spots (``spots``) and the ``ScoreCurve`` record itself
(``record``)."""
