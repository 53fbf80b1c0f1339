"""Everything written for a user: the spots folder (``folder``: key frames, ``spots.json``,
``scores.csv``, ``scores.json``), the curve figure (``plot``) and editor markers (``markers``,
one module per format).

"Export" means one thing: markers for editors and players (``--export edl,vtt,otio,chapters``)."""
