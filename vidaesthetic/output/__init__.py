"""Everything written for a user, one module per kind of file: the spots folder (``folder``: key
frames, ``spots.json``, ``scores.csv``), the curve on disk (``scores``: ``scores.json``), images
(``image``), the curve figure (``plot``), editor markers (``markers``, one module per format) and
ranked photographs (``ranked``). Nothing outside this package writes a file a user reads.

"Export" means one thing: markers for editors and players (``--export edl,vtt,otio,chapters``)."""
