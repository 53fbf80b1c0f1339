"""Applications of the scores beyond a video's spots: ranking photographs (``rank``), the best frame
of a live or short capture (``best``) and saliency maps of what drives a score (``explain``)."""
