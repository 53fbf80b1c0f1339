"""Infrastructure the stages share, not part of the public API: atomic writes (``atomic``), folder
locks (``locks``), crash isolation in child processes (``isolation``), verified downloads
(``download``), background decoding (``prefetch``) and device choice (``devices``)."""
