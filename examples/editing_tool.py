"""How an editing tool uses vidaesthetic: score a clip, get its best moments, write timeline markers.

    python examples/editing_tool.py clip.mp4 [output_folder]

Only the public API (``import vidaesthetic``) is used.
"""

import sys

import vidaesthetic as va


def best_moments(path: str, count: int = 5):
    """The clip's info, its smoothed score curve and its best ``count`` moments, best first."""
    model = va.load_model()  # the paper's model when installed, else the baseline
    with va.open_video(path) as video:
        curve = va.score_video(video, model, sampling=va.Sampling(fps=10))  # 10 frames/s is plenty
    curve = va.smooth(curve, time_constant=1.0)
    return curve, va.find_spots(curve, top=count, min_gap=3.0)


if __name__ == "__main__":
    curve, spots = best_moments(sys.argv[1])
    info = curve.video
    print(f"{info.width}x{info.height}, {info.duration:.1f} s, {info.fps:.3f} fps, model {curve.model['name']}")
    for spot in spots:
        print(f"#{spot.rank} marker at {spot.timecode} ({spot.time:.3f} s), shot {spot.shot}, score {spot.score:.3f}")
    if len(sys.argv) > 2:  # markers with the key frames and records; all files appear together, or none
        document = va.save_spots(sys.argv[1], curve, spots, sys.argv[2], markers=["edl", "vtt", "chapters"])
        print("wrote", document["files"]["markers"])
