"""Everything written for a user: the spots folder (``folder``: key frames, ``spots.json``,
``scores.csv``, ``scores.json``), the curve figure (``plot``) and editor markers (``markers``)."""
